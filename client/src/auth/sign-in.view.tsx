import type { SupabaseClient } from '@supabase/supabase-js';
import { useState, type FormEvent } from 'react';

type Mode = 'sign-in' | 'sign-up';

export function SignInView({ supabase }: { supabase: SupabaseClient }) {
  const [email, setEmail] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<Mode | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  async function submit(mode: Mode, event?: FormEvent) {
    event?.preventDefault();
    if (busy) return;
    setError(null);
    setNotice(null);
    if (!email.trim() || !password) {
      setError('Enter your email and a password.');
      return;
    }
    if (mode === 'sign-up' && password.length < 8) {
      setError('Choose a password of at least 8 characters.');
      return;
    }
    setBusy(mode);
    try {
      const credentials = { email: email.trim(), password };
      const { data, error: authError } =
        mode === 'sign-in' ? await supabase.auth.signInWithPassword(credentials) : await supabase.auth.signUp(credentials);
      if (authError) setError(authError.message);
      // A Supabase project that confirms emails returns no session on sign-up.
      else if (mode === 'sign-up' && !data.session) setNotice('Check your inbox to confirm your email, then sign in.');
    } catch {
      setError('Could not reach the server. Check your connection and try again.');
    } finally {
      setBusy(null);
    }
  }

  return (
    <main className="auth">
      <form className="auth-card" onSubmit={(e) => void submit('sign-in', e)} aria-labelledby="auth-title" noValidate>
        <div className="brand brand-large" aria-hidden="true">
          <span className="brand-mark">Z</span>marty
        </div>
        <h1 id="auth-title">Your realtime crypto co-pilot</h1>
        <p className="muted">Sign in or create an account to chat, watch pairs and get live signals.</p>
        <label htmlFor="auth-email">Email</label>
        <input
          id="auth-email"
          data-testid="email"
          type="email"
          autoComplete="email"
          inputMode="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          required
        />
        <label htmlFor="auth-password">Password</label>
        <input
          id="auth-password"
          data-testid="password"
          type="password"
          autoComplete="current-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          minLength={8}
          required
          aria-describedby="auth-password-hint"
        />
        <p id="auth-password-hint" className="hint">
          At least 8 characters for a new account.
        </p>
        {error && (
          <p className="form-error" role="alert">
            {error}
          </p>
        )}
        {notice && (
          <p className="form-notice" role="status">
            {notice}
          </p>
        )}
        <div className="auth-actions">
          <button type="submit" className="btn btn-primary" data-testid="sign-in" disabled={busy !== null}>
            {busy === 'sign-in' ? 'Signing in…' : 'Sign in'}
          </button>
          <button type="button" className="btn" data-testid="sign-up" disabled={busy !== null} onClick={() => void submit('sign-up')}>
            {busy === 'sign-up' ? 'Creating…' : 'Create account'}
          </button>
        </div>
      </form>
    </main>
  );
}
