// bin/anvil token create|list|sessions|end-session|revoke: API tokens and the pages' sessions, acting on the database directly.
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
    .command('sessions')
    .description('List the browsers signed in to the pages (never their cookies), by token')
    .addOption(dataOption())
    .option('--json', 'print JSON')
    .action(async (o: { data: string; json?: boolean }) => {
      const s = await openData({ data: o.data });
      try {
        const names = new Map((await s.tokens.list()).map((t) => [t.id, t.name]));
        const rows = (await s.sessions.list()).map(({ hash: _h, ...r }) => ({ ...r, token: names.get(r.token_id) ?? '' }));
        if (o.json) printJson(rows);
        else
          process.stdout.write(
            table(
              ['ID', 'TOKEN', 'SIGNED IN', 'LAST SEEN', 'EXPIRES'],
              rows.map((r) => [String(r.id), `${r.token} (${r.token_id})`, when(r.created_at), when(r.last_seen_at), when(r.expires_at)]),
            ) + '\n',
          );
      } finally {
        await s.close();
      }
    });
  root
    .command('end-session')
    .description('Sign one browser out by session id (from anvil token sessions); its token keeps working')
    .argument('<id>')
    .addOption(dataOption())
    .action(async (id: string, o: { data: string }) => {
      const s = await openData({ data: o.data });
      try {
        await s.sessions.endById(Number(id));
        process.stdout.write(`ended page session ${id}\n`);
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
