// Virtual media (DSP8010 VirtualMedia): vendors put it under the ComputerSystem or under its
// Manager, and insert with the InsertMedia action or, on older services, a PATCH of Image and
// Inserted. Both are handled; a system without a slot for the medium says so.
import { action, isObject, link } from './codec.ts';
import type { Resource } from './codec.ts';
import type { RedfishClient } from './client.ts';
import { RedfishUnsupportedError } from './errors.ts';

export interface MediaSlot {
  readonly path: string;
  readonly id: string;
  readonly mediaTypes: readonly string[];
  readonly image: string | undefined;
  readonly inserted: boolean;
}

function slot(resource: Resource, path: string): MediaSlot {
  return {
    path,
    id: typeof resource.Id === 'string' ? resource.Id : path,
    mediaTypes: Array.isArray(resource.MediaTypes) ? resource.MediaTypes.filter((t): t is string => typeof t === 'string') : [],
    image: typeof resource.Image === 'string' && resource.Image !== '' ? resource.Image : undefined,
    inserted: resource.Inserted === true,
  };
}

/** The virtual media slots of the system: its own, else those of the managers that manage it. */
export async function listVirtualMedia(client: RedfishClient): Promise<MediaSlot[]> {
  const { resource: system } = await client.system();
  const owners: string[] = [];
  const own = link(system, 'VirtualMedia');
  if (own !== undefined) owners.push(own);
  else {
    const links = isObject(system.Links) ? system.Links : {};
    const managedBy = Array.isArray(links.ManagedBy) ? links.ManagedBy : [];
    for (const m of managedBy) {
      if (!isObject(m) || typeof m['@odata.id'] !== 'string') continue;
      const media = link(await client.get(m['@odata.id']), 'VirtualMedia');
      if (media !== undefined) owners.push(media);
    }
  }
  const out: MediaSlot[] = [];
  for (const owner of owners) {
    for (const path of await client.members(owner)) out.push(slot(await client.get(path), path));
  }
  return out;
}

async function pick(
  client: RedfishClient,
  mediaType: string,
  slotId: string | undefined,
): Promise<{ slot: MediaSlot; resource: Resource; etag: string | undefined }> {
  const slots = await listVirtualMedia(client);
  if (slots.length === 0)
    throw new RedfishUnsupportedError(`Redfish system ${await client.systemPath()} has no virtual media, neither under it nor under its manager`);
  const found = slotId !== undefined ? slots.find((s) => s.id === slotId) : slots.find((s) => s.mediaTypes.includes(mediaType));
  if (!found)
    throw new RedfishUnsupportedError(
      `Redfish system ${await client.systemPath()} has no virtual media slot ${slotId !== undefined ? `'${slotId}'` : `for ${mediaType}`}; it has ${slots.map((s) => `${s.id} (${s.mediaTypes.join('/') || 'no types'})`).join(', ')}`,
    );
  const { resource, etag } = await client.read(found.path);
  return { slot: found, resource, etag };
}

export interface InsertOptions {
  /** Default 'CD'. */
  readonly mediaType?: string;
  readonly slotId?: string;
  /** Boot from it once inserted (Inserted + a Once override is the caller's). */
  readonly writeProtected?: boolean;
}

/** Inserts the image at `image` (a URL the BMC fetches) into a slot for the media type. */
export async function insertMedia(client: RedfishClient, image: string, options: InsertOptions = {}): Promise<MediaSlot> {
  const { slot: s, resource, etag } = await pick(client, options.mediaType ?? 'CD', options.slotId);
  const insert = action(resource, '#VirtualMedia.InsertMedia');
  const body = { Image: image, Inserted: true, WriteProtected: options.writeProtected ?? true };
  if (insert) await client.followTask(await client.transport.request('POST', insert.target as string, { body }), `InsertMedia into ${s.id}`);
  else await client.patch(s.path, body, etag);
  return { ...s, image, inserted: true };
}

/** Ejects whatever is in the slot (the first slot with an image when none is named). */
export async function ejectMedia(client: RedfishClient, options: { slotId?: string; mediaType?: string } = {}): Promise<MediaSlot> {
  const slots = await listVirtualMedia(client);
  const found =
    options.slotId !== undefined
      ? slots.find((s) => s.id === options.slotId)
      : slots.find((s) => s.inserted && (options.mediaType === undefined || s.mediaTypes.includes(options.mediaType)));
  if (!found)
    throw new RedfishUnsupportedError(
      `Redfish system ${await client.systemPath()} has no inserted virtual media${options.slotId ? ` in slot '${options.slotId}'` : ''}`,
    );
  const { resource, etag } = await client.read(found.path);
  const eject = action(resource, '#VirtualMedia.EjectMedia');
  if (eject) await client.followTask(await client.transport.request('POST', eject.target as string, { body: {} }), `EjectMedia from ${found.id}`);
  else await client.patch(found.path, { Image: null, Inserted: false }, etag);
  return { ...found, image: undefined, inserted: false };
}
