#!/usr/bin/env node
// Runs a command under the Node this project needs (package.json "engines"), on any
// machine: when the Node running this is older, Node 22 comes from the npm registry's
// `node` package into .tools/ (once), the way .ci/run does, and the command runs with it
// first on PATH. Plain JavaScript, so it runs on the old Node too.
//   node scripts/node22.mjs "<shell command>"   run it
//   node scripts/node22.mjs --print-path        print the bin folder to put first on PATH (or nothing)
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const wanted = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).engines.node;
const minimum = /(\d+)\.(\d+)\.(\d+)/.exec(wanted).slice(1).map(Number);
const toolsBin = join(root, '.tools', 'node_modules', 'node', 'bin');

const parse = (v) => v.replace(/^v/, '').split('.').map(Number);
const atLeast = (v) => {
  for (let i = 0; i < 3; i++) if (v[i] !== minimum[i]) return v[i] > minimum[i];
  return true;
};
const versionOf = (node) => {
  const out = spawnSync(node, ['--version'], { encoding: 'utf8' });
  return out.status === 0 ? parse(out.stdout.trim()) : [0, 0, 0];
};

function nodeBin() {
  if (atLeast(parse(process.versions.node))) return '';
  const toolsNode = join(toolsBin, 'node');
  if (!existsSync(toolsNode) || !atLeast(versionOf(toolsNode))) {
    console.error(
      `Node ${process.versions.node} is older than this project needs (${wanted}): fetching Node ${minimum[0]} from the npm registry into .tools/ (once)…`,
    );
    const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm';
    const install = spawnSync(
      npm,
      [
        'install',
        '--no-save',
        '--no-package-lock',
        '--no-audit',
        '--no-fund',
        '--prefix',
        join(root, '.tools'),
        `node@${minimum[0]}`,
      ],
      { stdio: ['ignore', 'ignore', 'inherit'] },
    );
    if (install.status !== 0 || !existsSync(toolsNode) || !atLeast(versionOf(toolsNode))) {
      console.error(
        `Could not fetch Node ${minimum[0]}. Install Node ${wanted} (e.g. \`nvm install\`, which reads .nvmrc) and run the command again.`,
      );
      process.exit(1);
    }
  }
  return toolsBin;
}

const args = process.argv.slice(2);
const bin = nodeBin();
if (args[0] === '--print-path') {
  if (bin) console.log(bin);
  process.exit(0);
}
const env = bin
  ? { ...process.env, PATH: `${bin}${process.platform === 'win32' ? ';' : ':'}${process.env.PATH}` }
  : process.env;
// Ctrl-C reaches the whole process group; a SIGTERM sent to this process alone is passed on.
// The first argument is a shell command as written in package.json (it may hold `&&`);
// every later one (package.json's own words, or what `npm run x -- …` passes on) is
// quoted, so an argument with spaces, such as `-t "two words"`, stays one argument.
const quote = (arg) =>
  process.platform === 'win32'
    ? `"${arg.replaceAll('"', '\\"')}"`
    : `'${arg.replaceAll("'", "'\\''")}'`;
const command = [args[0], ...args.slice(1).map(quote)].join(' ');
const child = spawn(command, { stdio: 'inherit', shell: true, env });
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal));
child.on('exit', (code, signal) => {
  if (signal) {
    process.removeAllListeners(signal);
    process.kill(process.pid, signal);
  }
  process.exit(code ?? 1);
});
