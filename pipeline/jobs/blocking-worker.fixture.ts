/**
 * Test fixture (pipeline.test.ts): a worker process whose market source
 * stores candles normally but hangs forever when asked for the liquidation
 * map, i.e. in the middle of an ingest, after its first writes. The test
 * SIGKILLs it there and checks another worker finishes the job.
 */
import { createLogger } from '../../common/logger';
import { startPipeline } from '../main';
import { createSimulatedMarket } from '../market/simulated';

const now = Number(process.env.FIXTURE_NOW);
const simulated = createSimulatedMarket({ now: () => now });

await startPipeline({
  env: process.env,
  log: createLogger({ level: 'silent' }),
  now: () => now,
  schedules: false,
  catchUpOnStart: false,
  market: {
    name: 'simulated',
    fetchCandles: (symbol, timeframe, options) => simulated.fetchCandles(symbol, timeframe, options),
    fetchLiquidationClusters: () => {
      process.stdout.write('BLOCKED\n');
      return new Promise(() => undefined);
    },
  },
});
process.stdout.write('READY\n');
