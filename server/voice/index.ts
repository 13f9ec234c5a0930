/** Voice: sentence chunking, ElevenLabs synthesis, ordered audio streaming with a shared cache. */
export { createVoiceService, voiceEnvSchema, voiceOptionsFromEnv, VOICE_DEFAULTS, type OpenVoiceResult, type VoiceOptions, type VoiceService } from './voice.service';
export { createVoiceStreamer, cacheKey, type AudioChunk, type VoiceStreamer, type VoiceSummary } from './voice-streamer';
export { createSentenceChunker, findBoundary, toSpeakable, type SentenceChunker } from './sentence-chunker';
export { createElevenLabsSynth, mimeFor, VoiceError, type SpeechSynth } from './elevenlabs.synth';
