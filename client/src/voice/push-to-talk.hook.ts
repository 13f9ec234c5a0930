import { useCallback, useEffect, useRef, useState } from 'react';

/** The Web Speech API's recognizer is not in TypeScript's DOM lib; this is the part we use. */
interface Recognition {
  lang: string;
  interimResults: boolean;
  continuous: boolean;
  onresult: ((event: { results: ArrayLike<ArrayLike<{ transcript: string }> & { isFinal: boolean }> }) => void) | null;
  onerror: ((event: { error: string }) => void) | null;
  onend: (() => void) | null;
  start(): void;
  stop(): void;
  abort(): void;
}

type RecognitionConstructor = new () => Recognition;

function recognitionConstructor(): RecognitionConstructor | null {
  if (typeof window === 'undefined') return null;
  const w = window as unknown as { SpeechRecognition?: RecognitionConstructor; webkitSpeechRecognition?: RecognitionConstructor };
  return w.SpeechRecognition ?? w.webkitSpeechRecognition ?? null;
}

/**
 * Push-to-talk with the browser's SpeechRecognition (Chromium, Safari): hold
 * the button (or press Space on it) to speak; the transcript goes to `onText`.
 */
export function usePushToTalk(onText: (text: string) => void) {
  const Ctor = recognitionConstructor();
  const [listening, setListening] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const recognition = useRef<Recognition | null>(null);
  const transcript = useRef('');
  const onTextRef = useRef(onText);
  onTextRef.current = onText;

  const start = useCallback(() => {
    if (!Ctor || recognition.current) return;
    const r = new Ctor();
    r.lang = navigator.language || 'en-US';
    r.interimResults = true;
    r.continuous = true;
    transcript.current = '';
    r.onresult = (event) => {
      transcript.current = Array.from(event.results, (result) => result[0]?.transcript ?? '').join('');
    };
    r.onerror = (event) => setError(event.error === 'not-allowed' ? 'Microphone access was refused' : `Speech recognition failed (${event.error})`);
    r.onend = () => {
      recognition.current = null;
      setListening(false);
      const text = transcript.current.trim();
      if (text) onTextRef.current(text);
    };
    recognition.current = r;
    setError(null);
    setListening(true);
    try {
      r.start();
    } catch {
      recognition.current = null;
      setListening(false);
    }
  }, [Ctor]);

  const stop = useCallback(() => recognition.current?.stop(), []);

  useEffect(() => () => recognition.current?.abort(), []);

  return { supported: Ctor !== null, listening, error, start, stop };
}
