// Preloaded with `node --require`: when the process exits, writes the files it loaded through
// require() (every CommonJS module, compiled fedkd code included) to $FEDKD_LOADED_MODULES_OUT.
const { writeFileSync } = require('node:fs');
process.on('exit', () => {
  const out = process.env.FEDKD_LOADED_MODULES_OUT;
  if (out) writeFileSync(out, JSON.stringify(Object.keys(require.cache)));
});
