// Starts one PostgreSQL cluster for scripts/test's second pass (test/helpers/postgres.ts), prints
// its maintenance URL and the start-up time on stdout, and stops it and removes its directory
// on SIGTERM, SIGINT or when stdin closes.
import { startPostgres } from '../test/helpers/postgres.ts';

const started = performance.now();
const cluster = await startPostgres();
process.stdout.write(`${cluster.url} ${Math.round(performance.now() - started)}\n`);
let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await cluster.stop();
  cluster.kill();
  process.exit(0);
};
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.stdin.on('end', stop);
process.stdin.resume();
