/**
 * Formatting shared by the views: times, durations, numbers, sizes.
 */

/** A timestamp (ms since the epoch) as local date and time, to the second. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms <= 0) {
    return '';
  }
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`
  );
}

/**
 * A start time, short enough for a table column: the time of day for today, month, day and
 * minutes for this year, the date for older runs.
 */
export function formatStart(ms: number | null | undefined, now: number): string {
  const full = formatTime(ms);
  if (!full) {
    return '';
  }
  const today = formatTime(now);
  if (full.slice(0, 10) === today.slice(0, 10)) {
    return full.slice(11);
  }
  return full.slice(0, 4) === today.slice(0, 4) ? full.slice(5, 16) : full.slice(0, 10);
}

/** A duration in milliseconds, short: `850 ms`, `12.3 s`, `4m 05s`, `2h 03m`, `3d 4h`. */
export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms) || ms < 0) {
    return '';
  }
  if (ms < 1000) {
    return `${Math.round(ms)} ms`;
  }
  const s = ms / 1000;
  if (s < 60) {
    return `${s.toFixed(1)} s`;
  }
  const pad = (n: number) => String(Math.floor(n)).padStart(2, '0');
  if (s < 3600) {
    return `${Math.floor(s / 60)}m ${pad(s % 60)}s`;
  }
  if (s < 86400) {
    return `${Math.floor(s / 3600)}h ${pad((s % 3600) / 60)}m`;
  }
  return `${Math.floor(s / 86400)}d ${Math.floor((s % 86400) / 3600)}h`;
}

/** How long a run took, or has taken so far while it runs. */
export function runDuration(
  start: number,
  end: number | null,
  status: string,
  now: number
): number | null {
  if (end !== null && end >= start) {
    return end - start;
  }
  return status === 'RUNNING' ? Math.max(0, now - start) : null;
}

/** A metric value: up to 4 significant decimals, exponent for very large or small values. */
export function formatNumber(value: number | null | undefined): string {
  if (value === null || value === undefined) {
    return '';
  }
  if (Number.isNaN(value)) {
    return 'NaN';
  }
  if (!Number.isFinite(value)) {
    return value > 0 ? '∞' : '−∞';
  }
  if (Number.isInteger(value) && Math.abs(value) < 1e12) {
    return String(value);
  }
  const abs = Math.abs(value);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) {
    return value.toExponential(3);
  }
  return String(Number(value.toPrecision(5)));
}

/** A size in bytes: `812 B`, `4.2 KB`, `1.3 MB`. */
export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined || !Number.isFinite(bytes)) {
    return '';
  }
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** A short form of a long id: its first 8 characters. */
export function shortId(id: string): string {
  return id.length > 10 ? id.slice(0, 8) : id;
}

/** The tags that jupyter-mltrack and MLflow set themselves (shown apart from the user's). */
export function isSystemTag(key: string): boolean {
  return key.startsWith('mlflow.') || key.startsWith('mltrack.');
}
