// Network function and command numbers of the commands in this folder, in one place
// (IPMI v2.0 Appendix G, "Command Assignments"). Session-establishment commands
// (06/38, 06/39, 06/3A, 06/3B, 06/3C, 06/54) belong to the session codec.

/** IPMI v2.0 §5.1, Table 5-1. Requests use the even number; the response is netFn + 1. */
export const NetFn = {
  chassis: 0x00,
  sensorEvent: 0x04,
  app: 0x06,
  storage: 0x0a,
  transport: 0x0c,
  groupExtension: 0x2c,
  oem: 0x2e,
} as const;

export const ChassisCmd = {
  getChassisStatus: 0x01, // §28.2
  chassisControl: 0x02, // §28.3
  chassisIdentify: 0x04, // §28.5
  setSystemBootOptions: 0x08, // §28.12
  getSystemBootOptions: 0x09, // §28.13
} as const;

export const AppCmd = {
  getDeviceId: 0x01, // §20.1
  coldReset: 0x02, // §20.2
  warmReset: 0x03, // §20.3
  getDeviceGuid: 0x08, // §20.8
  getSystemGuid: 0x37, // §22.14
  setUserAccess: 0x43, // §22.26
  getUserAccess: 0x44, // §22.27
  setUserName: 0x45, // §22.28
  getUserName: 0x46, // §22.29
  setUserPassword: 0x47, // §22.30
  activatePayload: 0x48, // §24.1
  deactivatePayload: 0x49, // §24.2
  getPayloadActivationStatus: 0x4a, // §24.4
} as const;

export const SensorCmd = {
  getSensorThresholds: 0x27, // §35.9
  getSensorReading: 0x2d, // §35.14
} as const;

export const StorageCmd = {
  getFruInventoryAreaInfo: 0x10, // §34.1
  readFruData: 0x11, // §34.2
  getSdrRepositoryInfo: 0x20, // §33.9
  reserveSdrRepository: 0x22, // §33.11
  getSdr: 0x23, // §33.12
  getSelInfo: 0x40, // §31.2
  reserveSel: 0x42, // §31.4
  getSelEntry: 0x43, // §31.5
  addSelEntry: 0x44, // §31.6
  clearSel: 0x47, // §31.9
  getSelTime: 0x48, // §31.10
  setSelTime: 0x49, // §31.11
} as const;

export const TransportCmd = {
  setLanConfig: 0x01, // §23.1
  getLanConfig: 0x02, // §23.2
} as const;

/** The channel number meaning "the channel this request arrived on" (§6.3). */
export const CURRENT_CHANNEL = 0x0e;
