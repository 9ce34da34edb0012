// Shared jest settings for every project: swc transform (fast, no type-check: `tsc -b`
// type-checks separately), specs beside the code, workspace libs resolved to their sources.
const path = require('node:path');

/** @param {string} projectDir absolute path of the project */
module.exports = function preset(projectDir) {
  const root = path.join(__dirname, '..');
  return {
    displayName: path.relative(root, projectDir),
    rootDir: projectDir,
    roots: ['<rootDir>/src'],
    testEnvironment: 'node',
    testMatch: ['**/*.spec.ts'],
    transform: {
      '^.+\\.ts$': [
        '@swc/jest',
        {
          jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
          module: { type: 'commonjs' },
          sourceMaps: 'inline',
        },
      ],
    },
    moduleNameMapper: {
      '^@tributary/([a-z-]+)$': path.join(root, 'libs/$1/src/index.ts'),
      '^@tributary/([a-z-]+)/([a-z-]+)$': path.join(root, 'libs/$1/src/$2.ts'),
    },
  };
};
