import path from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

const root = import.meta.dirname;
const server = process.env.ZMARTY_SERVER_URL ?? 'http://localhost:8080';

/** The browser client: `npm run dev` (hot reload, API proxied to the server) and `npm run build` → dist/client. */
export default defineConfig({
  root: path.join(root, 'client'),
  plugins: [react()],
  build: {
    outDir: path.join(root, 'dist/client'),
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 1200,
  },
  server: {
    port: 5173,
    // client/ imports the shared contract from common/.
    fs: { allow: [root] },
    proxy: {
      '/api': server,
      '/auth': server,
      '/chat': server,
      '/healthz': server,
      '/socket.io': { target: server, ws: true },
    },
  },
});
