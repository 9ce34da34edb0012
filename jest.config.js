// One jest run over every project (what `npm test` and CI use); each project also has its
// own jest.config.js for `nx run <project>:test`.
const fs = require('node:fs');
const path = require('node:path');

const projects = ['apps', 'libs', 'tools'].flatMap((dir) =>
  fs.existsSync(path.join(__dirname, dir))
    ? fs
        .readdirSync(path.join(__dirname, dir))
        .map((name) => path.join(__dirname, dir, name, 'jest.config.js'))
        .filter((file) => fs.existsSync(file))
    : [],
);

module.exports = { projects };
