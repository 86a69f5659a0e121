// bin/anvil conductor list: the anvil serve processes sharing the database (PostgreSQL; on
// SQLite the one server), their heartbeat's age, alive or dead, and how many machines each owns.
import { Command } from 'commander';
import { parseCommand } from './serve.ts';
import { dataOption, openData } from './data.ts';
import { printJson, table, when } from './output.ts';

function age(ms: number): string {
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  if (ms < 7_200_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 3_600_000)} h`;
}

export async function run(argv: string[]): Promise<number> {
  const root = new Command('anvil conductor').description('The conductors (anvil serve processes) sharing the database');
  root
    .command('list')
    .description(
      'List conductors: heartbeat age, alive or dead (ANVIL_CONDUCTOR_DEAD_AFTER, default 3 heartbeats), and how many machines the hash ring gives each',
    )
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (o: { data?: string; json?: boolean }) => {
      const s = await openData({ data: o.data });
      try {
        const rows = await s.conductors.list();
        if (o.json) printJson(rows);
        else if (rows.length === 0) process.stdout.write('no conductor: no anvil serve is running on this database\n');
        else
          process.stdout.write(
            table(
              ['ID', 'HOST', 'PID', 'STARTED', 'HEARTBEAT', 'STATE', 'MACHINES'],
              rows.map((r) => [
                r.id,
                r.hostname,
                String(r.pid),
                when(r.startedAt),
                `${age(r.heartbeatAgeMs)} ago`,
                r.alive ? 'alive' : 'dead',
                String(r.machines),
              ]),
            ) + '\n',
          );
      } finally {
        await s.close();
      }
    });
  await parseCommand(root, argv);
  return 0;
}
