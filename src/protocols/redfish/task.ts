// Following a task monitor (DSP0266 §13.2 "Asynchronous operations"): a 202 Accepted with a
// Location is polled until it stops answering 202, or its Task reaches a final TaskState. A
// monitor that never ends is given up after a bounded number of polls, not followed forever.
import { isObject } from './codec.ts';
import type { Json } from './codec.ts';
import { REDFISH_DEFAULTS, TASK_DONE_STATES } from './constants.ts';
import { REDFISH_ERROR_CODES, RedfishError } from './errors.ts';
import { errorMessages, parseRetryAfter } from './codec.ts';
import type { Answer, RedfishTransport } from './transport.ts';

export interface TaskOptions {
  readonly maxPolls?: number;
  readonly pollMs?: number;
  readonly sleep?: (ms: number) => Promise<unknown>;
  readonly now?: () => number;
}

/** What a finished task said: its final state and messages. */
export interface TaskResult {
  readonly state: string;
  readonly body: Json | undefined;
}

function taskState(body: Json | undefined): string | undefined {
  return isObject(body) && typeof body.TaskState === 'string' ? body.TaskState : undefined;
}

/** Follows the answer's task monitor when it is a 202 with a Location; other answers are already done. */
export async function followTask(transport: RedfishTransport, answer: Answer, what: string, options: TaskOptions = {}): Promise<TaskResult> {
  const location = answer.headers.location;
  if (answer.status !== 202 || location === undefined) return { state: 'Completed', body: answer.body };
  const maxPolls = options.maxPolls ?? REDFISH_DEFAULTS.maxTaskPolls;
  const pollMs = options.pollMs ?? REDFISH_DEFAULTS.taskPollMs;
  const sleep = options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const now = options.now ?? Date.now;
  let last = answer;
  for (let poll = 0; poll < maxPolls; poll++) {
    const wait = parseRetryAfter(last.headers['retry-after'], now()) ?? pollMs;
    await sleep(Math.min(wait, REDFISH_DEFAULTS.maxRetryAfterMs));
    last = await transport.request('GET', location);
    const state = taskState(last.body);
    if (last.status === 202 && (state === undefined || !(TASK_DONE_STATES as readonly string[]).includes(state))) continue;
    if (state === undefined || state === 'Completed') return { state: state ?? 'Completed', body: last.body };
    const said = errorMessages(isObject(last.body) && Array.isArray(last.body.Messages) ? { '@Message.ExtendedInfo': last.body.Messages } : last.body);
    const detail = said.length > 0 ? `: ${said.map((m) => m.message).join('; ')}` : '';
    throw new RedfishError(REDFISH_ERROR_CODES.task, `Redfish ${transport.origin}: ${what} ended as ${state}${detail}`);
  }
  throw new RedfishError(
    REDFISH_ERROR_CODES.task,
    `Redfish ${transport.origin}: ${what} was still running after ${maxPolls} polls of its task monitor ${location}; anvil stopped following it (check the BMC's TaskService)`,
  );
}
