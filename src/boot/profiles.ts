// Boot profiles: every `*.prof` in the profiles folder is a Liquid template a machine can be
// told to boot next. `local.prof` ("boot your own disk") is mandatory.
import { join } from 'node:path';
import { existsSync } from 'node:fs';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { AnvilError, listWords } from '../common/errors.ts';
import { readTemplate, scanTemplates, type ScanProblem } from '../common/template-dir.ts';
import { availableNames, syncNames, type SyncReport } from '../store/names.ts';
import { renderTemplate } from '../common/templates.ts';

export const PROFILE_EXTENSION = '.prof';
export const LOCAL_PROFILE = 'local';

export interface ProfileSyncReport extends SyncReport {
  readonly problems: ScanProblem[];
}

export class Profiles {
  readonly #db: Kysely<Database>;
  readonly dir: string;

  constructor(db: Kysely<Database>, dir: string) {
    this.#db = db;
    this.dir = dir;
  }

  /** pxemngr syncbootnames: records the profiles found in the folder. */
  async sync(now: string): Promise<ProfileSyncReport> {
    if (!existsSync(join(this.dir, LOCAL_PROFILE + PROFILE_EXTENSION))) {
      throw new AnvilError(
        'LOCAL_PROFILE_MISSING',
        'invalid',
        `${join(this.dir, 'local.prof')} is missing: it is mandatory and must boot the local disk (for pxelinux: 'LOCALBOOT 0'); create it and run syncbootnames again`,
      );
    }
    const { names, problems } = await scanTemplates(this.dir, PROFILE_EXTENSION);
    if (!names.includes(LOCAL_PROFILE)) {
      const problem = problems.find((p) => p.file.endsWith('/local.prof'));
      throw new AnvilError(
        'LOCAL_PROFILE_INVALID',
        'invalid',
        `local.prof does not parse${problem?.line ? ` (line ${problem.line})` : ''}: ${problem?.message ?? 'unknown problem'}`,
      );
    }
    return { ...(await syncNames(this.#db, 'profiles', names, now)), problems };
  }

  available(): Promise<string[]> {
    return availableNames(this.#db, 'profiles');
  }

  /** Throws unless `name` is a synced, available profile, listing the known ones. */
  async assertKnown(name: string): Promise<void> {
    const known = await this.available();
    if (!known.includes(name)) {
      const hint = known.length === 0 ? '; run syncbootnames first' : '';
      throw new AnvilError('UNKNOWN_PROFILE', 'not-found', `unknown profile '${name}'; known profiles: ${listWords(known)}${hint}`);
    }
  }

  source(name: string): Promise<string> {
    return readTemplate(this.dir, name, PROFILE_EXTENSION, () => this.available(), 'profile');
  }

  /** Renders profile `name`, read from disk now, so edits take effect at the next boot. */
  async render(name: string, variables: Record<string, unknown>): Promise<string> {
    return renderTemplate(await this.source(name), variables, `${name}${PROFILE_EXTENSION}`);
  }
}
