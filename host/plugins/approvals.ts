import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BulkheadError } from '../core/errors.js';
import type { PluginFolder } from './plugin-folder.js';

/** One approval: the operator trusted these exact bytes, from this folder, under this name. */
export interface Approval {
  readonly folder: string;
  readonly version: string;
  readonly manifestSha256: string;
  readonly wasmSha256: string;
  readonly approvedAt: string;
}

/** What an approval is checked against: the name a folder claims, the folder, its files' hashes. */
export interface ApprovalClaim {
  readonly name: string;
  readonly folder: string;
  readonly manifestSha256: string;
  readonly wasmSha256: string;
}

interface ApprovalsFile {
  readonly approvalsVersion: 1;
  readonly plugins: Record<string, Approval>;
}

/**
 * The operator's pins, kept in `<dataDir>/approved-plugins.json`: a plugin from outside the
 * build loads only when its name, folder and both hashes match what was approved.
 */
export class Approvals {
  readonly #file: string;

  constructor(dataDir: string) {
    this.#file = path.join(dataDir, 'approved-plugins.json');
  }

  get file(): string {
    return this.#file;
  }

  all(): Readonly<Record<string, Approval>> {
    let text: string;
    try {
      text = readFileSync(this.#file, 'utf8');
    } catch {
      return {};
    }
    try {
      const parsed = JSON.parse(text) as ApprovalsFile;
      if (parsed.approvalsVersion === 1 && typeof parsed.plugins === 'object' && parsed.plugins !== null) return parsed.plugins;
    } catch {
      // fall through
    }
    throw new BulkheadError('BH_PLUGIN_APPROVALS_INVALID', { file: this.#file });
  }

  get(name: string): Approval | undefined {
    const all = this.all();
    return Object.hasOwn(all, name) ? all[name] : undefined;
  }

  /**
   * Refuses the plugin unless it is approved as it is now. Throws BH_PLUGIN_NOT_APPROVED,
   * BH_PLUGIN_NAME_TAKEN (the name is pinned to another folder) or BH_PLUGIN_CHANGED. Needs only
   * the name the folder claims and the hashes of its files, so it can run before the manifest is
   * validated.
   */
  check(plugin: ApprovalClaim): void {
    const { name } = plugin;
    const approval = this.get(name);
    if (!approval) throw new BulkheadError('BH_PLUGIN_NOT_APPROVED', { plugin: name, folder: plugin.folder });
    if (approval.folder !== plugin.folder) {
      throw new BulkheadError('BH_PLUGIN_NAME_TAKEN', { plugin: name, owner: `the approved plugin in ${approval.folder}`, folder: plugin.folder });
    }
    if (approval.manifestSha256 !== plugin.manifestSha256) {
      throw new BulkheadError('BH_PLUGIN_CHANGED', { file: 'plugin.json', plugin: name, folder: plugin.folder });
    }
    if (approval.wasmSha256 !== plugin.wasmSha256) {
      throw new BulkheadError('BH_PLUGIN_CHANGED', { file: 'plugin.wasm', plugin: name, folder: plugin.folder });
    }
  }

  /** Pins the plugin as it is now. Re-approving the same folder updates its pin. */
  approve(plugin: PluginFolder, now: Date = new Date()): Approval {
    const name = plugin.manifest.name;
    const all = { ...this.all() };
    const existing = Object.hasOwn(all, name) ? all[name] : undefined;
    if (existing && existing.folder !== plugin.folder) {
      throw new BulkheadError('BH_PLUGIN_NAME_TAKEN', { plugin: name, owner: `the approved plugin in ${existing.folder}`, folder: plugin.folder });
    }
    const approval: Approval = {
      folder: plugin.folder,
      version: plugin.manifest.version,
      manifestSha256: plugin.manifestSha256,
      wasmSha256: plugin.wasmSha256,
      approvedAt: now.toISOString(),
    };
    all[name] = approval;
    this.#write({ approvalsVersion: 1, plugins: all });
    return approval;
  }

  /** Forgets a pin; returns whether there was one. */
  revoke(name: string): boolean {
    const all = { ...this.all() };
    if (!Object.hasOwn(all, name)) return false;
    delete all[name];
    this.#write({ approvalsVersion: 1, plugins: all });
    return true;
  }

  #write(content: ApprovalsFile): void {
    mkdirSync(path.dirname(this.#file), { recursive: true, mode: 0o700 });
    const temp = `${this.#file}.${process.pid}.tmp`;
    writeFileSync(temp, `${JSON.stringify(content, null, 2)}\n`, { mode: 0o600 });
    renameSync(temp, this.#file);
  }
}
