export { type CloseOptions, type CloseReport, compareTensors, expectTensorsClose } from "./expect-close.js";
export { expectNoLeaks } from "./expect-no-leaks.js";
export { type Cases, fixturePath, fixturesDir, loadCases } from "./fixtures.js";
export { type FolderServer, type ServedRequest, serveFolder } from "./serve-folder.js";
