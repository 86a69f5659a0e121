// The `anvil ipmi` verbs that change users and the SEL, as ipmitool spells them: user set
// name|password, user enable|disable and sel delete. A new password never comes from the
// command line (every local user can read it there): it is asked for, as ipmitool asks when
// none is given, on the terminal or from stdin.
import { completionCodeText, MAX_PASSWORD_LENGTH, MAX_USER_NAME_LENGTH } from '../protocols/ipmi/constants.ts';
import { UsageError } from './command.ts';
import type { IpmiVerb } from './ipmi-commands.ts';
import { promptSecret } from './password.ts';

/** A user id as ipmitool takes one (1..63, IPMI v2.0 §22.26). */
function userId(text: string | undefined, verb: string): number {
  const n = Number(text);
  if (text === undefined || !Number.isInteger(n) || n < 1 || n > 63) throw new UsageError(`${verb}: user id must be 1 to 63, not '${text ?? ''}'`);
  return n;
}

async function askNewPassword(uid: number): Promise<string> {
  const first = await promptSecret(`Password for user ${uid}: `);
  const again = await promptSecret(`Password for user ${uid}: `);
  if (first !== again) throw new UsageError('the two passwords do not match');
  if (Buffer.byteLength(first) > MAX_PASSWORD_LENGTH) throw new UsageError(`the password is longer than ${MAX_PASSWORD_LENGTH} bytes`);
  return first;
}

export const USER_VERBS: readonly IpmiVerb[] = [
  {
    words: ['user', 'set', 'name'],
    args: '<id> <name>',
    sameHelpLine: true,
    fleet: false,
    prepare: ([idText, name, ...rest]) => {
      const uid = userId(idText, 'user set name');
      if (name === undefined || rest.length > 0) throw new UsageError('user set name: give the id and one name');
      if (Buffer.byteLength(name) > MAX_USER_NAME_LENGTH) throw new UsageError(`user set name: '${name}' is longer than ${MAX_USER_NAME_LENGTH} bytes`);
      return async (b) => {
        await b.setUserName(uid, name);
        return { lines: [], json: { id: uid, name } };
      };
    },
  },
  {
    words: ['user', 'set', 'password'],
    args: '<id>',
    note: '(user set password asks for it: on the terminal, or two lines of stdin)',
    sameHelpLine: true,
    fleet: false,
    prepare: ([idText, ...rest]) => {
      const uid = userId(idText, 'user set password');
      if (rest.length > 0)
        throw new UsageError('user set password: a password on the command line is visible to every local user; leave it out to be asked for it');
      return async (b) => {
        const password = await askNewPassword(uid);
        await b.setUserPassword(uid, password);
        return { lines: [`Set User Password command successful (user ${uid})`], json: { id: uid, password: 'set' } };
      };
    },
  },
  ...(['enable', 'disable'] as const).map(
    (word): IpmiVerb => ({
      words: ['user', word],
      args: '<id>',
      sameHelpLine: true,
      fleet: false,
      prepare: ([idText]) => {
        const uid = userId(idText, `user ${word}`);
        return async (b) => {
          await b.enableUser(uid, word === 'enable');
          return { lines: [], json: { id: uid, enabled: word === 'enable' } };
        };
      },
    }),
  ),
];

export const SEL_DELETE_VERB: IpmiVerb = {
  words: ['sel', 'delete'],
  args: '<id>...',
  sameHelpLine: true,
  fleet: false,
  prepare: (ids) => {
    if (ids.length === 0) return undefined;
    const numbers = ids.map((text) => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 0 || n > 0xffff) throw new UsageError(`sel delete: '${text}' is not a SEL record id`);
      return n;
    });
    return async (b) => {
      const lines: string[] = [];
      const deleted: number[] = [];
      // As ipmitool: each id on its own, a failure said on stderr, and the rest still tried.
      for (const id of numbers) {
        const code = await b.inventory.deleteSelEntry(id);
        if (code === 0) {
          lines.push(`Deleted entry ${id}`);
          deleted.push(id);
        } else process.stderr.write(`Unable to delete entry ${id}: ${completionCodeText(code)}\n`);
      }
      return { lines, json: { deleted }, ...(deleted.length < numbers.length ? { code: 1 } : {}) };
    };
  },
};
