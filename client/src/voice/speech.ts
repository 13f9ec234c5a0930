/** The browser's own text-to-speech, used when the server's voice is unavailable. */
export interface Speaker {
  supported: boolean;
  speak(sentences: string[]): void;
  cancel(): void;
}

export function createSpeaker(): Speaker {
  const synth = typeof window !== 'undefined' && 'speechSynthesis' in window ? window.speechSynthesis : null;
  return {
    supported: synth !== null,
    speak(sentences) {
      if (!synth) return;
      // Utterances queue in order; each sentence starts as soon as it is complete.
      for (const sentence of sentences) synth.speak(new SpeechSynthesisUtterance(sentence));
    },
    cancel() {
      synth?.cancel();
    },
  };
}
