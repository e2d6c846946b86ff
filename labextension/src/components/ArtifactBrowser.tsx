/**
 * A run's artifacts: a folder tree on the left, a preview of the chosen file on the right.
 * Previews: images, text, JSON (JupyterLab's JSON viewer), CSV/TSV/Parquet as a table, HTML in
 * a sandboxed frame that can run no script, notebooks rendered by JupyterLab's own renderers;
 * anything else can be downloaded.
 */

import { IRenderMimeRegistry, MimeModel } from '@jupyterlab/rendermime';
import {
  caretDownIcon,
  caretRightIcon,
  downloadIcon,
  fileIcon,
  folderIcon,
  imageIcon,
  jsonIcon,
  notebookIcon,
  spreadsheetIcon
} from '@jupyterlab/ui-components';
import { Panel, Widget } from '@lumino/widgets';
import * as React from 'react';

import { MltrackApi, messageOf } from '../api';
import { formatBytes } from '../format';
import { IArtifactEntry, IArtifactPreview } from '../tokens';
import { ErrorMessage, Loading, Note, ToolButton, useAsync } from './common';
import { rendersAsNotebook } from '../previews';

function baseName(path: string): string {
  const parts = path.split('/');
  return parts[parts.length - 1] || path;
}

function iconOf(entry: IArtifactEntry) {
  if (entry.is_dir) {
    return folderIcon;
  }
  const path = entry.path.toLowerCase();
  if (entry.media_type?.startsWith('image/')) {
    return imageIcon;
  }
  if (path.endsWith('.ipynb')) {
    return notebookIcon;
  }
  if (path.endsWith('.json')) {
    return jsonIcon;
  }
  if (/\.(csv|tsv|parquet)$/.test(path)) {
    return spreadsheetIcon;
  }
  return fileIcon;
}

/** Save a run's artifact file through the browser. */
export async function downloadArtifact(
  api: MltrackApi,
  runId: string,
  path: string
): Promise<void> {
  const blob = await api.artifactBlob(runId, path);
  const url = URL.createObjectURL(blob);
  const link = document.createElement('a');
  link.href = url;
  link.download = baseName(path);
  document.body.appendChild(link);
  link.click();
  link.remove();
  window.setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** One folder's entries, folders first, each group by path. */
async function listFolder(
  api: MltrackApi,
  runId: string,
  path: string,
  signal: AbortSignal
): Promise<IArtifactEntry[]> {
  const entries = await api.artifacts(runId, path, signal);
  return entries.sort(
    (a, b) => Number(b.is_dir) - Number(a.is_dir) || a.path.localeCompare(b.path)
  );
}

/** The artifact browser of one run. */
export function ArtifactBrowser(props: {
  api: MltrackApi;
  runId: string;
  rendermime: IRenderMimeRegistry | null;
  cellLabel?: (cellId: string) => string | null;
  onJumpToCell?: (cellId: string) => void;
}): JSX.Element {
  const { api, runId } = props;
  const [open, setOpen] = React.useState<Set<string>>(new Set());
  const [selected, setSelected] = React.useState<IArtifactEntry | null>(null);
  const root = useAsync(signal => listFolder(api, runId, '', signal), [api, runId], {
    reset: true
  });

  // show something at once: the first file at the top level
  React.useEffect(() => {
    const file = root.value?.find(e => !e.is_dir);
    if (file) {
      setSelected(current => current ?? file);
    }
  }, [root.value]);

  const tree: ITree = {
    api,
    runId,
    open,
    selected: selected?.path ?? null,
    onToggle: entry => {
      if (!entry.is_dir) {
        setSelected(entry);
        return;
      }
      const next = new Set(open);
      if (next.has(entry.path)) {
        next.delete(entry.path);
      } else {
        next.add(entry.path);
      }
      setOpen(next);
    }
  };

  return (
    <div className="jp-mltrack-ArtifactBrowser">
      <div className="jp-mltrack-ArtifactTree" role="tree">
        <ErrorMessage message={root.error} />
        {root.value ? (
          root.value.length === 0 ? (
            <Note>This run has no artifacts.</Note>
          ) : (
            <Entries tree={tree} entries={root.value} depth={0} />
          )
        ) : (
          !root.error && <Pending depth={0} />
        )}
      </div>
      <div className="jp-mltrack-ArtifactPreview">
        {selected ? (
          <ArtifactPreview
            key={selected.path}
            api={api}
            runId={runId}
            entry={selected}
            rendermime={props.rendermime}
            cellLabel={props.cellLabel}
            onJumpToCell={props.onJumpToCell}
          />
        ) : (
          <Note>Choose a file to preview it.</Note>
        )}
      </div>
    </div>
  );
}

/** What every level of the folder tree shares. */
interface ITree {
  api: MltrackApi;
  runId: string;
  /** The open folders, by path. */
  open: Set<string>;
  /** The chosen file's path. */
  selected: string | null;
  onToggle: (entry: IArtifactEntry) => void;
}

/** A folder still loading. */
function Pending(props: { depth: number }): JSX.Element {
  return (
    <div style={{ paddingLeft: 8 + props.depth * 14 }} className="jp-mltrack-Note">
      …
    </div>
  );
}

/** An open folder below the root: loaded when opened. */
function Folder(props: { tree: ITree; path: string; depth: number }): JSX.Element {
  const { api, runId } = props.tree;
  const { value, error } = useAsync(
    signal => listFolder(api, runId, props.path, signal),
    [api, runId, props.path]
  );
  if (!value) {
    return error ? <ErrorMessage message={error} /> : <Pending depth={props.depth} />;
  }
  return <Entries tree={props.tree} entries={value} depth={props.depth} />;
}

/** The rows of one folder, with the open subfolders under theirs. */
function Entries(props: { tree: ITree; entries: IArtifactEntry[]; depth: number }): JSX.Element {
  const { tree, depth } = props;
  return (
    <>
      {props.entries.map(entry => {
        const Icon = iconOf(entry).react;
        const isOpen = tree.open.has(entry.path);
        const Caret = isOpen ? caretDownIcon.react : caretRightIcon.react;
        return (
          <React.Fragment key={entry.path}>
            <div
              className={
                'jp-mltrack-ArtifactTree-item' +
                (tree.selected === entry.path ? ' jp-mod-selected' : '')
              }
              style={{ paddingLeft: 4 + depth * 14 }}
              data-path={entry.path}
              title={entry.path}
              onClick={() => tree.onToggle(entry)}
            >
              {entry.is_dir ? (
                <Caret tag="span" />
              ) : (
                <span className="jp-mltrack-RunTable-caret-space" />
              )}
              <Icon tag="span" className="jp-mltrack-ArtifactTree-icon" />
              <span className="jp-mltrack-ArtifactTree-name">{baseName(entry.path)}</span>
              {!entry.is_dir && (
                <span className="jp-mltrack-ArtifactTree-size">{formatBytes(entry.file_size)}</span>
              )}
            </div>
            {entry.is_dir && isOpen && <Folder tree={tree} path={entry.path} depth={depth + 1} />}
          </React.Fragment>
        );
      })}
    </>
  );
}

/** What a preview shows: the server's description of the file, or a notebook's JSON. */
type Shown = { preview: IArtifactPreview } | { notebook: INotebookJson };

async function loadShown(
  api: MltrackApi,
  runId: string,
  entry: IArtifactEntry,
  signal: AbortSignal
): Promise<Shown> {
  const path = entry.path;
  if (rendersAsNotebook(path, entry.file_size)) {
    const blob = await api.artifactBlob(runId, path, signal);
    return { notebook: JSON.parse(await blob.text()) as INotebookJson };
  }
  return { preview: await api.artifactPreview(runId, path, signal) };
}

function ArtifactPreview(props: {
  api: MltrackApi;
  runId: string;
  entry: IArtifactEntry;
  rendermime: IRenderMimeRegistry | null;
  cellLabel?: (cellId: string) => string | null;
  onJumpToCell?: (cellId: string) => void;
}): JSX.Element {
  const { api, runId, entry } = props;
  const { value: shown, error: loadError } = useAsync(
    signal => loadShown(api, runId, entry, signal),
    [api, runId, entry.path],
    { reset: true }
  );
  const [downloadError, setDownloadError] = React.useState<string | null>(null);
  const error = loadError ?? downloadError;

  const cell = entry.cell_id && props.cellLabel ? props.cellLabel(entry.cell_id) : null;
  let body: React.ReactNode = !error && <Loading />;
  if (shown && 'notebook' in shown) {
    body = props.rendermime ? (
      <NotebookPreview notebook={shown.notebook} rendermime={props.rendermime} />
    ) : (
      <pre className="jp-mltrack-Preview-text">{JSON.stringify(shown.notebook, null, 1)}</pre>
    );
  } else if (shown) {
    body = <PreviewBody preview={shown.preview} rendermime={props.rendermime} />;
  }
  return (
    <div className="jp-mltrack-Preview" data-path={entry.path}>
      <div className="jp-mltrack-Preview-header">
        <span className="jp-mltrack-Preview-path">{entry.path}</span>
        <span className="jp-mltrack-Preview-meta">
          {formatBytes(entry.file_size)}
          {entry.media_type ? ` · ${entry.media_type}` : ''}
        </span>
        {entry.cell_id && props.onJumpToCell && (
          <ToolButton
            label={cell ? `from ${cell}` : 'from cell'}
            title="Show the cell that logged this file"
            onClick={() => props.onJumpToCell?.(entry.cell_id as string)}
          />
        )}
        <ToolButton
          icon={downloadIcon}
          label="Download"
          title="Download this file"
          onClick={() =>
            void downloadArtifact(api, runId, entry.path).catch(e => setDownloadError(messageOf(e)))
          }
        />
      </div>
      <ErrorMessage message={error} />
      {body}
    </div>
  );
}

function PreviewBody(props: {
  preview: IArtifactPreview;
  rendermime: IRenderMimeRegistry | null;
}): JSX.Element {
  const { preview } = props;
  switch (preview.kind) {
    case 'image':
      return (
        <div className="jp-mltrack-Preview-image">
          <img src={`data:${preview.media_type};base64,${preview.data}`} alt={preview.path} />
        </div>
      );
    case 'text':
      return (
        <>
          <pre className="jp-mltrack-Preview-text">{preview.text}</pre>
          {preview.truncated && <Note>Only the beginning of the file is shown.</Note>}
        </>
      );
    case 'json':
      return props.rendermime?.mimeTypes.includes('application/json') ? (
        <MimeView
          rendermime={props.rendermime}
          data={{ 'application/json': preview.data as never }}
          className="jp-mltrack-Preview-json"
        />
      ) : (
        <pre className="jp-mltrack-Preview-text">{JSON.stringify(preview.data, null, 2)}</pre>
      );
    case 'table':
      return (
        <div className="jp-mltrack-Preview-table">
          <table className="jp-mltrack-Table jp-mltrack-DataTable">
            <thead>
              <tr>
                {preview.columns.map((c, i) => (
                  <th key={i}>{c}</th>
                ))}
              </tr>
            </thead>
            <tbody>
              {preview.rows.map((row, i) => (
                <tr key={i}>
                  {row.map((v, j) => (
                    <td key={j}>{v === null ? '' : String(v)}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {preview.truncated && <Note>Only the first {preview.rows.length} rows are shown.</Note>}
        </div>
      );
    case 'html':
      // no allow-scripts, no same origin: the page is shown, never run as part of JupyterLab
      return (
        <iframe
          className="jp-mltrack-Preview-html"
          sandbox=""
          srcDoc={preview.text}
          title={preview.path}
        />
      );
    default:
      return (
        <Note>
          No preview{preview.reason ? ` (${preview.reason})` : ''}. Download the file to open it.
        </Note>
      );
  }
}

/** Lumino widgets (JupyterLab renderers) shown inside React. */
function WidgetHost(props: { make: () => Widget; deps: React.DependencyList; className?: string }) {
  const ref = React.useRef<HTMLDivElement>(null);
  // a layout effect: its clean-up runs while the host node is still in the document, which
  // Lumino needs to detach the widget
  React.useLayoutEffect(() => {
    const node = ref.current;
    if (!node) {
      return;
    }
    const widget = props.make();
    Widget.attach(widget, node);
    return () => {
      if (widget.isAttached && widget.node.isConnected) {
        Widget.detach(widget);
      }
      widget.dispose();
    };
  }, props.deps);
  return <div ref={ref} className={props.className} />;
}

type MimeBundle = Record<string, string | string[] | object>;

function MimeView(props: {
  rendermime: IRenderMimeRegistry;
  data: MimeBundle;
  className?: string;
}): JSX.Element {
  return (
    <WidgetHost
      className={props.className}
      deps={[props.data]}
      make={() => {
        const mime = props.rendermime.preferredMimeType(props.data as never, 'prefer');
        const panel = new Panel();
        if (mime) {
          const renderer = props.rendermime.createRenderer(mime);
          void renderer.renderModel(new MimeModel({ data: props.data as never, trusted: false }));
          panel.addWidget(renderer);
        }
        return panel;
      }}
    />
  );
}

/** The parts of an .ipynb file the preview reads. */
interface INotebookJson {
  cells?: {
    cell_type?: string;
    source?: string | string[];
    execution_count?: number | null;
    outputs?: {
      output_type?: string;
      name?: string;
      text?: string | string[];
      data?: MimeBundle;
      metadata?: Record<string, unknown>;
      traceback?: string[];
    }[];
  }[];
  metadata?: { language_info?: { name?: string } };
}

function joined(text: string | string[] | undefined): string {
  return Array.isArray(text) ? text.join('') : (text ?? '');
}

/** A notebook file rendered read-only by JupyterLab's renderers (untrusted: no scripts). */
function NotebookPreview(props: {
  notebook: INotebookJson;
  rendermime: IRenderMimeRegistry;
}): JSX.Element {
  const { notebook, rendermime } = props;
  const language = notebook.metadata?.language_info?.name ?? 'python';
  return (
    <WidgetHost
      className="jp-mltrack-NotebookPreview"
      deps={[notebook]}
      make={() => {
        const panel = new Panel();
        const render = (data: MimeBundle, parent: Panel, className: string) => {
          const mime = rendermime.preferredMimeType(data as never, 'prefer');
          if (!mime) {
            return;
          }
          const renderer = rendermime.createRenderer(mime);
          renderer.addClass(className);
          void renderer.renderModel(new MimeModel({ data: data as never, trusted: false }));
          parent.addWidget(renderer);
        };
        for (const cell of notebook.cells ?? []) {
          const box = new Panel();
          box.addClass('jp-mltrack-NotebookPreview-cell');
          const source = joined(cell.source);
          if (cell.cell_type === 'markdown') {
            render({ 'text/markdown': source }, box, 'jp-mltrack-NotebookPreview-markdown');
          } else if (cell.cell_type === 'code') {
            const prompt = new Widget();
            prompt.addClass('jp-mltrack-NotebookPreview-prompt');
            prompt.node.textContent = `[${cell.execution_count ?? ' '}]:`;
            box.addWidget(prompt);
            // a fenced block gets the markdown renderer's syntax highlighting
            render(
              { 'text/markdown': '```' + language + '\n' + source + '\n```' },
              box,
              'jp-mltrack-NotebookPreview-source'
            );
            for (const output of cell.outputs ?? []) {
              let data: MimeBundle | undefined;
              if (output.output_type === 'stream') {
                const kind = output.name === 'stderr' ? 'stderr' : 'stdout';
                data = { [`application/vnd.jupyter.${kind}`]: joined(output.text) };
              } else if (output.output_type === 'error') {
                data = { 'application/vnd.jupyter.stderr': (output.traceback ?? []).join('\n') };
              } else {
                data = output.data;
              }
              if (data) {
                render(data, box, 'jp-mltrack-NotebookPreview-output');
              }
            }
          } else {
            render({ 'text/plain': source }, box, 'jp-mltrack-NotebookPreview-raw');
          }
          panel.addWidget(box);
        }
        return panel;
      }}
    />
  );
}
