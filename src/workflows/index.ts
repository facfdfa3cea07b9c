// The workflow bundle's entry point: every workflow the workers run is exported here.
export { connectionTestWorkflow } from './connection-test.js';
