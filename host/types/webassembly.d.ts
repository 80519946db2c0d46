// The part of the WebAssembly JS API the host uses. TypeScript ships these types only with the DOM
// library, and @types/node 20 does not declare them; pulling in DOM would add browser globals.
declare namespace WebAssembly {
  type ImportExportKind = 'function' | 'global' | 'memory' | 'table' | 'tag';
  interface ModuleImportDescriptor {
    readonly kind: ImportExportKind;
    readonly module: string;
    readonly name: string;
  }
  interface ModuleExportDescriptor {
    readonly kind: ImportExportKind;
    readonly name: string;
  }
  class Module {
    constructor(bytes: BufferSource);
    static imports(module: Module): ModuleImportDescriptor[];
    static exports(module: Module): ModuleExportDescriptor[];
  }
  class Instance {
    constructor(module: Module, imports?: Record<string, Record<string, unknown>>);
    readonly exports: Record<string, unknown>;
  }
  class Memory {
    constructor(descriptor: { initial: number; maximum?: number });
    readonly buffer: ArrayBuffer;
    grow(delta: number): number;
  }
  class CompileError extends Error {}
  class LinkError extends Error {}
  class RuntimeError extends Error {}
  /** A WebAssembly exception (exception handling proposal) that left the module uncaught. */
  class Exception {}
}
type BufferSource = ArrayBufferView | ArrayBuffer;
