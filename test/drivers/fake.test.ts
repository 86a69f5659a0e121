// The fake driver against the contract, in memory.
import { FakeHardware } from '../../src/drivers/fake.ts';
import { driverContract, memoryState } from './contract.ts';

driverContract('fake', async () => {
  const hardware = new FakeHardware();
  const machine = 'fake-1';
  const driver = hardware.create(hardware.validate(machine, {}), { machine, state: memoryState() });
  const m = hardware.machine(machine);
  return {
    driver,
    machine,
    softOff: true,
    observedBoots: () => m.boots,
    makeStuck: () => {
      m.stuck = true;
    },
    close: () => hardware.close(),
  };
});
