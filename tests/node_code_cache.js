// A V8 code cache for wrangler's 12 MB bundle in the test suite: what Node 22's NODE_COMPILE_CACHE
// does, for the Node 20 that wrangler 4.86 runs on. Loaded with NODE_OPTIONS="--require <this>"
// when SKCLAW_TEST_NODE_CODE_CACHE names a directory (tests/conftest.py sets both).
//
// The same source runs; only the compiled code is cached, so each wrangler start parses and
// compiles less (about 0.2 s CPU of a 0.8 s start). V8 checks the cache against the source and
// the flags and compiles afresh if it does not match. One cache per wrangler command (`secret`,
// `d1`, `deploy`...), written once at exit, so it holds the functions that command ran.
"use strict";
const Module = require("module");
const fs = require("fs");
const path = require("path");
const vm = require("vm");

const directory = process.env.SKCLAW_TEST_NODE_CODE_CACHE;
const MIN_SIZE = 1_000_000; // only the bundle; small modules are not worth it

if (directory) {
  const compile = Module.prototype._compile;
  Module.prototype._compile = function (content, filename) {
    if (content.length < MIN_SIZE) return compile.call(this, content, filename);
    const stat = fs.statSync(filename);
    const command = String(process.argv[2] || "").replace(/[^A-Za-z0-9_-]/g, "_");
    const key = [process.version, path.basename(filename), stat.size, Math.trunc(stat.mtimeMs), command].join("-");
    const file = path.join(directory, key.replace(/[^A-Za-z0-9._-]/g, "_") + ".v8");
    let cachedData;
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      cachedData = undefined;
    }
    const script = new vm.Script(Module.wrap(content), {
      filename,
      cachedData,
      importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER,
    });
    if (cachedData === undefined || script.cachedDataRejected) {
      process.once("exit", () => {
        try {
          const partial = `${file}.${process.pid}`;
          fs.writeFileSync(partial, script.createCachedData());
          fs.renameSync(partial, file); // atomic: parallel test workers share the directory
        } catch {
          // a cache is an optimisation; never fail wrangler for it
        }
      });
    }
    const wrapper = script.runInThisContext({ displayErrors: true });
    const module = this;
    function require(id) {
      return module.require(id);
    }
    require.resolve = (request, options) => Module._resolveFilename(request, module, false, options);
    require.resolve.paths = (request) => Module._resolveLookupPaths(request, module);
    require.main = process.mainModule;
    require.extensions = Module._extensions;
    require.cache = Module._cache;
    return wrapper.call(module.exports, module.exports, require, module, filename, path.dirname(filename));
  };
}
