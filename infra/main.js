// The Pulumi program's entry point (Pulumi.yaml `main`): the .ts loader, then the program itself,
// whose exports are the stack's outputs.
"use strict";
require("./register").register(__dirname);
module.exports = require("./index.ts");
