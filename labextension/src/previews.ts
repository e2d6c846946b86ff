/**
 * Which way an artifact is previewed. A notebook is fetched whole and rendered by JupyterLab's
 * own renderers; past a size that would stall the browser it is previewed like any other file,
 * by the server's bounded preview (its first bytes, as text).
 */

/** The largest notebook (bytes) fetched whole to be rendered as a notebook. */
export const NOTEBOOK_RENDER_MAX_BYTES = 20 * 1024 * 1024;

/** Whether `path` (of `size` bytes, null when unknown) is rendered as a notebook. */
export function rendersAsNotebook(path: string, size: number | null | undefined): boolean {
  return (
    path.toLowerCase().endsWith('.ipynb') &&
    size !== null &&
    size !== undefined &&
    size <= NOTEBOOK_RENDER_MAX_BYTES
  );
}
