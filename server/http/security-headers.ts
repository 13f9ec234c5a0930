import type { MiddlewareHandler } from 'hono';
import { secureHeaders } from 'hono/secure-headers';

/**
 * lightweight-charts shows TradingView's attribution logo (its licence asks
 * for it) and styles it with a `<style>` element holding one fixed rule set.
 * This hash allows exactly that stylesheet and no other inline style;
 * security-headers.test.ts recomputes it from the installed package, so an
 * upgrade that changes the rules fails there, not silently in the browser.
 */
export const CHART_ATTRIBUTION_STYLE_HASH = "'sha256-3pRED1tOXas1FXFoPb9TGCjmYe9XQsmO9OV23khV2nY='";

/**
 * Hono's secure headers with a Content-Security-Policy the built client
 * satisfies (test/e2e runs the app under it and fails on any violation):
 * - scripts only from our origin: vite emits module scripts, no inline script;
 * - styles only from our origin (plus the chart's attribution stylesheet by
 *   hash), no 'unsafe-inline' even for attributes: React sets `style={…}`
 *   through the CSSOM (element.style), which CSP does not govern, and model
 *   markdown has `style` stripped by DOMPurify;
 * - connect: our origin (REST, /auth/v1, the Socket.IO polling and WebSocket —
 *   'self' covers ws:/wss: to the same host) plus a configured Supabase origin;
 * - media: blob: for the voice player (MediaSource and Blob object URLs);
 * - img: data: for the inline SVG favicon; lightweight-charts draws on canvas;
 * - never framed (frame-ancestors 'none' and X-Frame-Options: DENY).
 */
export function securityHeaders(options: { supabaseUrl?: string } = {}): MiddlewareHandler {
  const supabaseOrigin = options.supabaseUrl ? new URL(options.supabaseUrl).origin : undefined;
  return secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'", CHART_ATTRIBUTION_STYLE_HASH],
      imgSrc: ["'self'", 'data:'],
      fontSrc: ["'self'"],
      connectSrc: ["'self'", ...(supabaseOrigin ? [supabaseOrigin] : [])],
      mediaSrc: ["'self'", 'blob:'],
      objectSrc: ["'none'"],
      baseUri: ["'self'"],
      formAction: ["'self'"],
      frameAncestors: ["'none'"],
    },
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
    xContentTypeOptions: 'nosniff',
  });
}
