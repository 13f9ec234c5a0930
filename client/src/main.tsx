import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { App } from './app';
import { createSupabase } from './auth/supabase.client';
import { fetchPublicConfig } from './lib/api.client';
import './styles.css';

const root = createRoot(document.getElementById('root')!);

async function boot() {
  try {
    const config = await fetchPublicConfig();
    const supabase = createSupabase(config);
    root.render(
      <StrictMode>
        <App supabase={supabase} marketData={config.marketData} />
      </StrictMode>,
    );
  } catch {
    root.render(
      <div className="splash" role="alert">
        <p>Zmarty could not reach its server.</p>
        <button type="button" className="btn btn-primary" onClick={() => window.location.reload()}>
          Try again
        </button>
      </div>,
    );
  }
}

void boot();
