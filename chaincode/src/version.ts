/**
 * Version of this chaincode, reported by QueryVersion. Keep equal to `version` in chaincode/package.json
 * (a unit test checks it); a constant keeps the value deterministic and independent of the file layout.
 */
export const CHAINCODE_VERSION = '0.1.0';
