/**
 * Actions on runs and models that need a dialog: rename, tag, delete, restore, register. The
 * commands of the palette and the buttons of the views both call these.
 */

import { Dialog, InputDialog, Notification, showDialog } from '@jupyterlab/apputils';

import { MltrackApi, messageOf } from './api';
import { IModelVersion } from './tokens';

/** Ask for a new name and rename the run. Returns whether it was renamed. */
export async function renameRun(api: MltrackApi, runId: string, current: string): Promise<boolean> {
  const answer = await InputDialog.getText({
    title: 'Rename run',
    label: 'New name',
    text: current,
    okLabel: 'Rename'
  });
  const name = answer.value?.trim();
  if (!answer.button.accept || !name || name === current) {
    return false;
  }
  try {
    await api.updateRun(runId, { run_name: name });
    return true;
  } catch (error) {
    Notification.error(`Cannot rename the run: ${messageOf(error)}`, { autoClose: 6000 });
    return false;
  }
}

/** Parse `key=value` (set) or `key=` / `-key` (delete). */
export function parseTag(text: string): [string, string | null] | null {
  const trimmed = text.trim();
  if (trimmed.startsWith('-') && !trimmed.includes('=')) {
    const key = trimmed.slice(1).trim();
    return key ? [key, null] : null;
  }
  const at = trimmed.indexOf('=');
  if (at <= 0) {
    return null;
  }
  const key = trimmed.slice(0, at).trim();
  const value = trimmed.slice(at + 1).trim();
  return key ? [key, value === '' ? null : value] : null;
}

/** Ask for a tag and set it (or delete it) on every given run. */
export async function tagRuns(api: MltrackApi, runIds: string[]): Promise<boolean> {
  if (!runIds.length) {
    return false;
  }
  const answer = await InputDialog.getText({
    title: runIds.length === 1 ? 'Tag run' : `Tag ${runIds.length} runs`,
    label: 'key=value sets a tag; key= or -key removes it',
    placeholder: 'stage=candidate',
    okLabel: 'Apply'
  });
  if (!answer.button.accept || !answer.value) {
    return false;
  }
  const tag = parseTag(answer.value);
  if (!tag) {
    Notification.warning(`Not a tag: ${answer.value} (write key=value)`, { autoClose: 5000 });
    return false;
  }
  const failures: string[] = [];
  await Promise.all(
    runIds.map(id =>
      api.updateRun(id, { tags: { [tag[0]]: tag[1] } }).catch(e => failures.push(messageOf(e)))
    )
  );
  if (failures.length) {
    Notification.error(`Cannot tag ${failures.length} run(s): ${failures[0]}`, { autoClose: 6000 });
  }
  return failures.length < runIds.length;
}

/** Confirm, then mark the runs deleted (they can be restored). */
export async function deleteRuns(api: MltrackApi, runIds: string[]): Promise<boolean> {
  if (!runIds.length) {
    return false;
  }
  const result = await showDialog({
    title: runIds.length === 1 ? 'Delete run' : `Delete ${runIds.length} runs`,
    body: 'Deleted runs can be restored from the "Deleted" view until they are garbage-collected.',
    buttons: [Dialog.cancelButton(), Dialog.warnButton({ label: 'Delete' })]
  });
  if (!result.button.accept) {
    return false;
  }
  const failures: string[] = [];
  await Promise.all(runIds.map(id => api.deleteRun(id).catch(e => failures.push(messageOf(e)))));
  if (failures.length) {
    Notification.error(`Cannot delete ${failures.length} run(s): ${failures[0]}`, {
      autoClose: 6000
    });
  }
  return true;
}

/** Bring deleted runs back. */
export async function restoreRuns(api: MltrackApi, runIds: string[]): Promise<boolean> {
  const failures: string[] = [];
  await Promise.all(runIds.map(id => api.restoreRun(id).catch(e => failures.push(messageOf(e)))));
  if (failures.length) {
    Notification.error(`Cannot restore ${failures.length} run(s): ${failures[0]}`, {
      autoClose: 6000
    });
  }
  return failures.length < runIds.length;
}

/**
 * Ask for a registered model name and register `source` as its next version.
 *
 * @returns the new version, or null when cancelled or refused (a notification says why).
 */
export async function registerModel(
  api: MltrackApi,
  source: string,
  runId: string | null,
  modelId: string | null,
  suggestedName: string
): Promise<IModelVersion | null> {
  const answer = await InputDialog.getText({
    title: 'Register model',
    label: 'Registered model name (a new version is added if it exists)',
    text: suggestedName,
    okLabel: 'Register'
  });
  const name = answer.value?.trim();
  if (!answer.button.accept || !name) {
    return null;
  }
  try {
    return await api.registerModel(name, source, runId, modelId);
  } catch (error) {
    Notification.error(`Cannot register the model: ${messageOf(error)}`, { autoClose: 8000 });
    return null;
  }
}
