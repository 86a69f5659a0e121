// Sizes and durations as people read them: '1.5 KiB', '1m15s'.

const UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];

/** 1536 → '1.5 KiB'. */
export function bytes(n: number): string {
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${UNITS[unit]}`;
}

/** 75 → '1m15s'. */
export function duration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  return s < 60
    ? `${s}s`
    : s < 3600
      ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
      : `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** How much of a client-sent string a log line keeps. */
export const LOGGED_CLIENT_TEXT = 64;

/** What a client sent, cut for a log line: 'pxelinux.cfg/…' as is, a 4 KB name as its first 64 characters and its length. */
export function clipped(text: string, max = LOGGED_CLIENT_TEXT): string {
  return text.length <= max ? text : `${text.slice(0, max)}… (${Buffer.byteLength(text)} bytes)`;
}
