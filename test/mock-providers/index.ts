/**
 * Loopback servers speaking the providers' real wire formats, for tests,
 * end-to-end runs and the benchmark. Each is scriptable per request:
 *
 *   const openai = await startMockOpenAI({ tokenDelayMs: 5 });
 *   openai.script({ text: 'Hi there.' }, faults.rateLimited(1), (req) => ({ text: req.body.model }));
 *   new OpenAI({ apiKey: 'k', baseURL: openai.url, maxRetries: 0 });
 *   openai.requests[0].body / .headers / .outcome ('client-disconnected' after an abort)
 *   await openai.close();
 */
export { startMockOpenAI, type MockOpenAI } from './mock-openai';
export { startMockAnthropic, type MockAnthropic } from './mock-anthropic';
export { startMockElevenLabs, fakeMp3, type MockElevenLabs, type MockElevenLabsOptions, type MockTtsReply, type MockTtsFault } from './mock-elevenlabs';
export { faults, type MockReply, type MockFault, type MockToolCall, type MockLlmOptions } from './mock-reply';
export { splitTokens, type MockControl, type RecordedRequest, type RequestOutcome, type Script } from './mock-http';
