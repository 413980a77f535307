/**
 * `npm run bench`: every benchmark, each printing its figures as ratios against a baseline measured in the same run.
 * `npm run bench -- stream` runs only the named ones. Results are recorded by hand in bench/RESULTS.md, with the machine.
 */
import { cpus, totalmem } from 'node:os';

interface Benchmark {
  name: string;
  run(): Promise<{ headline: string }>;
}

const benchmarks: Benchmark[] = [
  { name: 'cli', run: async () => (await import('./cli.js')).main() },
  { name: 'resolve', run: async () => (await import('./resolve.js')).main() },
  { name: 'stream', run: async () => (await import('./stream.js')).main() },
  { name: 'api', run: async () => (await import('./api.js')).main() },
  { name: 'llamacpp', run: async () => (await import('./llamacpp.js')).main() },
  { name: 'games', run: async () => (await import('./games.js')).main() },
  { name: 'page', run: async () => (await import('./page.js')).main() },
];

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !benchmarks.some((benchmark) => benchmark.name === name));
if (unknown.length > 0) {
  console.error(`unknown benchmark: ${unknown.join(', ')}; there are: ${benchmarks.map((b) => b.name).join(', ')}`);
  process.exit(2);
}

console.log(
  `machine: ${cpus().length} × ${cpus()[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ` +
    `Node ${process.version}, ${process.platform}`,
);
const headlines: string[] = [];
for (const benchmark of benchmarks) {
  if (wanted.length > 0 && !wanted.includes(benchmark.name)) continue;
  console.log(`\n== ${benchmark.name}`);
  const result = await benchmark.run();
  headlines.push(`${benchmark.name}: ${result.headline}`);
}
console.log(`\n== summary\n${headlines.join('\n')}`);
