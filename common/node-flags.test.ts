import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { WORKER_NODE_FLAGS } from './node-flags';

const ROOT = path.resolve(import.meta.dirname, '..');

describe("the worker's Node flags", () => {
  it('are on every command that starts the worker: the Procfile, npm run start:worker, npm start', async () => {
    const procfile = await readFile(path.join(ROOT, 'Procfile'), 'utf8');
    const worker = procfile.split('\n').find((line) => line.startsWith('worker:'))!;
    const scripts = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8')).scripts as Record<string, string>;
    const start = await readFile(path.join(ROOT, 'scripts/start.ts'), 'utf8');
    for (const flag of WORKER_NODE_FLAGS) {
      expect(worker).toContain(` ${flag} `);
      expect(scripts['start:worker']).toContain(` ${flag} `);
    }
    expect(start).toMatch(/worker: WORKER_NODE_FLAGS/);
    // The web process keeps V8's defaults.
    expect(procfile.split('\n').find((line) => line.startsWith('web:'))).not.toContain('--max-');
  });

  it('reach Node through tsx, as the Procfile runs it', async () => {
    const procfile = await readFile(path.join(ROOT, 'Procfile'), 'utf8');
    const command = procfile.split('\n').find((line) => line.startsWith('worker:'))!.slice('worker:'.length).trim();
    // The Procfile's own command, with a probe in place of the worker's entry file.
    const probe = command.replace('pipeline/main.ts', `-e 'console.log(JSON.stringify(process.execArgv))'`);
    const { stdout } = await promisify(execFile)('sh', ['-c', probe], { cwd: ROOT });
    expect(JSON.parse(stdout.trim().split('\n').pop()!)).toEqual(expect.arrayContaining([...WORKER_NODE_FLAGS]));
  });
});
