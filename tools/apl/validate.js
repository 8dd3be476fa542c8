// Validates APL documents (and their data sources) with Amazon's apl-suggester.
// Usage: node validate.js DOCUMENT.json [DATASOURCES.json]...  (pairs: a document, optionally followed by
// `--data FILE` for its data sources). Prints one JSON object: {"results": [{file, kind, issues: [...]}]}.
// Exit code 1 when anything is reported, 2 on bad usage or unreadable files.
"use strict";
const fs = require("fs");
const { StaticAplTemplateValidator } = require("apl-suggester");

async function main(argv) {
  if (argv.length === 0) {
    console.error("usage: node validate.js DOCUMENT.json [--data DATASOURCES.json] ...");
    return 2;
  }
  const validator = new StaticAplTemplateValidator();
  const results = [];
  for (let i = 0; i < argv.length; i++) {
    const isData = argv[i] === "--data";
    const file = isData ? argv[++i] : argv[i];
    let json;
    try {
      json = JSON.parse(fs.readFileSync(file, "utf8"));
    } catch (error) {
      console.error(`cannot read ${file}: ${error.message}`);
      return 2;
    }
    const issues = isData ? await validator.validateDataSources(json) : await validator.validate(json);
    results.push({ file, kind: isData ? "datasources" : "document", issues });
  }
  console.log(JSON.stringify({ results }, null, 2));
  // apl-suggester reports everything it finds as a WARNING; any finding fails (the project wants none).
  const errors = results.flatMap((r) => r.issues);
  return errors.length > 0 ? 1 : 0;
}

main(process.argv.slice(2)).then((code) => process.exit(code));
