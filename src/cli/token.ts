// bin/anvil token create|list|revoke: API tokens, acting on the database directly.
import { Command } from 'commander';
import { parseCommand } from './serve.ts';
import { dataOption, openData } from './data.ts';
import { printJson, table, when } from './output.ts';

export async function run(argv: string[]): Promise<number> {
  const root = new Command('anvil token').description('Manage API tokens (roles: viewer reads, operator changes machines, admin manages tokens)');
  root
    .command('create')
    .description('Make a token and print its secret (shown once)')
    .addOption(dataOption())
    .requiredOption('--role <role>', 'viewer, operator or admin')
    .option('--name <name>', 'a label to recognise it by')
    .option('--json', 'print JSON')
    .action(async (o: { data: string; role: string; name?: string; json?: boolean }) => {
      const s = await openData({ data: o.data });
      try {
        const { token, record } = await s.tokens.create(o.role, o.name);
        if (o.json) printJson({ id: record.id, name: record.name, role: record.role, token });
        else process.stdout.write(`${token}\n`);
      } finally {
        await s.close();
      }
    });
  root
    .command('list')
    .description('List tokens (never their secrets) and how many browsers are signed in with each')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      const s = await openData({ data: o.data });
      try {
        const signedIn = new Map<number, number>();
        for (const session of await s.sessions.list()) signedIn.set(session.token_id, (signedIn.get(session.token_id) ?? 0) + 1);
        const rows = (await s.tokens.list()).map(({ hash: _h, ...r }) => ({ ...r, sessions: signedIn.get(r.id) ?? 0 }));
        if (o.json) printJson(rows);
        else
          process.stdout.write(
            table(
              ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED', 'SESSIONS'],
              rows.map((r) => [String(r.id), r.name, r.role, when(r.created_at), when(r.last_used_at), String(r.sessions)]),
            ) + '\n',
          );
      } finally {
        await s.close();
      }
    });
  root
    .command('revoke')
    .description('Revoke a token by id; the browsers signed in with it are signed out')
    .argument('<id>')
    .addOption(dataOption())
    .action(async (id: string, o: { data: string }) => {
      const s = await openData({ data: o.data });
      try {
        const ended = await s.tokens.revoke(Number(id));
        process.stdout.write(`revoked token ${id}${ended > 0 ? `; signed out its ${ended} page session${ended === 1 ? '' : 's'}` : ''}\n`);
      } finally {
        await s.close();
      }
    });
  await parseCommand(root, argv);
  return 0;
}
