import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { resolve } from 'node:path';

/** Runs test/support/stack-process.ts and talks to it. */
export async function startStackProcess(env: Record<string, string>) {
  const child: ChildProcessWithoutNullStreams = spawn(
    process.execPath,
    [resolve('node_modules/tsx/dist/cli.mjs'), resolve('test/support/stack-process.ts')],
    { env: { ...process.env, ...env }, stdio: 'pipe' },
  );
  const waiting: { op: string; resolve: (v: Record<string, unknown>) => void }[] = [];
  let buffered = '';
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (!line.startsWith('@stack ')) continue;
      const answer = JSON.parse(line.slice(7)) as Record<string, unknown>;
      const i = waiting.findIndex((w) => w.op === answer.op);
      if (i >= 0) waiting.splice(i, 1)[0]!.resolve(answer);
    }
  });
  child.stderr.on('data', (chunk: Buffer) => {
    log += chunk.toString();
  });
  const exited = new Promise<number | null>((done) => child.once('exit', done));
  const answer = (op: string) =>
    new Promise<Record<string, unknown>>((done, fail) => {
      waiting.push({ op, resolve: done });
      exited.then((code) => fail(new Error(`stack process exited (${code}): ${log.slice(-2000)}`)));
    });
  const ask = (op: string) => {
    const answered = answer(op);
    child.stdin.write(`${JSON.stringify({ op })}\n`);
    return answered;
  };
  const ready = await answer('ready');
  return {
    httpUrl: ready.httpUrl as string,
    wsUrl: ready.wsUrl as string,
    ask,
    async stop() {
      if (child.exitCode === null) await ask('stop').catch(() => undefined);
      await exited;
    },
    kill() {
      child.kill('SIGKILL');
    },
  };
}
