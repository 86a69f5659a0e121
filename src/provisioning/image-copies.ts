// An image's file in a cluster. Each `anvil serve` keeps its library in its own data directory:
// an image uploaded or captured through one process is a shared row and a file in that process's
// folder, recorded in image_copies with the process's own URL (--peer-url). A process asked for
// an image it does not hold — an agent's download, the API's — reads it from a holder over HTTP,
// forwarding the caller's own credentials (the holder checks them in the shared database), and
// passes the bytes on as they come: nothing is copied to disk, and the reader verifies the
// content as it does any download (the agent reads the disk back against the image's sha256).
// A request from a peer is never passed on again, so two processes cannot bounce it between them.
import { Readable } from 'node:stream';
import { AnvilError } from '../common/errors.ts';
import type { Image } from '../store/schema.ts';

/** Set on a request one process makes to another for an image: the asked one answers from its own library only. */
export const PEER_HOP_HEADER = 'x-anvil-peer-hop';
/** How long a holder may take to start answering (the body then streams for as long as it takes). */
export const PEER_ANSWER_TIMEOUT_MS = 10_000;

/** What the caller asked for, to be asked again of a holder. */
export interface PeerRequest {
  /** The route on the holder, e.g. /agent/v1/image or /api/v1/images/NAME/content. */
  readonly path: string;
  /** The caller's credentials, forwarded as they came. */
  readonly headers: Readonly<Record<string, string>>;
  /** Answer from this library or not at all: the request came from another process (PEER_HOP_HEADER), or from the command line. */
  readonly fromPeer: boolean;
}

/** The image's bytes from the first holder that answers with all of them; an error naming each holder and why otherwise. */
export async function readFromPeers(image: Image, peers: readonly string[], request: PeerRequest): Promise<{ stream: Readable; from: string }> {
  if (request.fromPeer || peers.length === 0) {
    const where =
      peers.length > 0
        ? `; the anvil process at ${peers.join(', ')} holds it: read it through that one (GET ${peers[0]}/api/v1/images/${encodeURIComponent(image.name)}/content)`
        : `; upload it again (anvil image delete ${image.name}, then anvil image upload FILE --name ${image.name})`;
    throw new AnvilError(
      'IMAGE_FILE_MISSING',
      request.fromPeer ? 'not-found' : 'unavailable',
      `image '${image.name}' is in the library but its file (${image.file}) is not in this data directory${where}`,
    );
  }
  const failures: string[] = [];
  for (const peer of peers) {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), PEER_ANSWER_TIMEOUT_MS);
    try {
      const res = await fetch(`${peer.replace(/\/+$/, '')}${request.path}`, {
        headers: { ...request.headers, [PEER_HOP_HEADER]: '1' },
        signal: controller.signal,
      });
      if (res.ok && res.body && res.headers.get('content-length') === String(image.stored_size)) {
        // From here the body may take as long as the image does; a holder that dies midway ends the stream with an error.
        clearTimeout(timer);
        return { stream: Readable.fromWeb(res.body as import('node:stream/web').ReadableStream<Uint8Array>), from: peer };
      }
      const detail = res.ok ? `answered ${res.headers.get('content-length') ?? 'no'} bytes, not ${image.stored_size}` : await statusOf(res);
      await res.body?.cancel().catch(() => undefined);
      failures.push(`${peer}: ${detail}`);
    } catch (error) {
      const cause = (error as { cause?: { code?: string } }).cause?.code;
      failures.push(`${peer}: ${controller.signal.aborted ? `no answer within ${PEER_ANSWER_TIMEOUT_MS / 1000} s` : (cause ?? (error as Error).message)}`);
    } finally {
      clearTimeout(timer);
    }
  }
  throw new AnvilError(
    'IMAGE_UNAVAILABLE',
    'unavailable',
    `image '${image.name}' is stored by another anvil process, and none gave it (${failures.join('; ')}); ` +
      'start that process again, or upload the image again through this one',
  );
}

async function statusOf(res: Response): Promise<string> {
  const text = await res.text().catch(() => '');
  let code: string | undefined;
  try {
    code = (JSON.parse(text) as { error?: { code?: string } }).error?.code;
  } catch {
    // not JSON: the status is enough
  }
  return `HTTP ${res.status}${code ? ` ${code}` : ''}`;
}
