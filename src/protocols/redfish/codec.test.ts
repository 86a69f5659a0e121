// The Redfish codec on answers as services send them: error bodies with @Message.ExtendedInfo,
// Retry-After in both forms, Boot with AllowableValues, Reset's allowed types, and answers
// that lack what the specification requires.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { bootSettings, errorBody, errorMessages, etagOf, memberPaths, parseJson, parseRetryAfter, powerState, resetAction } from './codec.ts';

test('errorMessages reads @Message.ExtendedInfo, else error.message; errorBody makes what it reads', () => {
  const body = {
    error: {
      code: 'Base.1.8.GeneralError',
      message: 'A general error has occurred.',
      '@Message.ExtendedInfo': [
        {
          MessageId: 'Base.1.8.PropertyValueNotInList',
          Message: "The value 'Floppy' for the property BootSourceOverrideTarget is not in the list of acceptable values.",
          Resolution: 'Choose a value from the enumeration list.',
        },
        'junk',
      ],
    },
  };
  assert.deepEqual(errorMessages(body), [
    {
      messageId: 'Base.1.8.PropertyValueNotInList',
      message: "The value 'Floppy' for the property BootSourceOverrideTarget is not in the list of acceptable values.",
      resolution: 'Choose a value from the enumeration list.',
    },
  ]);
  assert.deepEqual(errorMessages({ error: { code: 'X', message: 'plain' } }), [{ messageId: 'X', message: 'plain' }]);
  assert.deepEqual(errorMessages('not an object'), []);
  assert.deepEqual(errorMessages(errorBody('Base.1.8.MalformedJSON', 'bad', 'fix it')), [
    { messageId: 'Base.1.8.MalformedJSON', message: 'bad', resolution: 'fix it' },
  ]);
});

test('parseRetryAfter: seconds, an HTTP date, nothing', () => {
  assert.equal(parseRetryAfter('3', 0), 3000);
  assert.equal(parseRetryAfter('Wed, 21 Oct 2015 07:28:10 GMT', Date.parse('Wed, 21 Oct 2015 07:28:00 GMT')), 10_000);
  assert.equal(parseRetryAfter('soon', 0), undefined);
  assert.equal(parseRetryAfter(undefined, 0), undefined);
});

test('power state, boot settings and reset action; missing properties are clear errors', () => {
  const system = {
    PowerState: 'Off',
    Boot: { BootSourceOverrideTarget: 'Pxe', BootSourceOverrideEnabled: 'Once', 'BootSourceOverrideTarget@Redfish.AllowableValues': ['Pxe', 'Hdd', 'Warp'] },
    Actions: { '#ComputerSystem.Reset': { target: '/r', 'ResetType@Redfish.AllowableValues': ['On', 'ForceOff'] } },
  };
  assert.equal(powerState(system, 'sys'), 'Off');
  assert.deepEqual(bootSettings(system, 'sys'), { target: 'Pxe', enabled: 'Once', mode: undefined, allowedTargets: ['Pxe', 'Hdd'], allowedModes: undefined });
  assert.deepEqual(resetAction(system), { target: '/r', allowed: ['On', 'ForceOff'], actionInfo: undefined });
  assert.equal(resetAction({}), undefined);
  assert.throws(() => powerState({}, 'sys 1'), /sys 1 has no PowerState/);
  assert.throws(() => powerState({ PowerState: 'Sleepy' }, 'sys 1'), /PowerState 'Sleepy', not one of On, Off/);
  assert.throws(() => bootSettings({}, 'sys 1'), /sys 1 has no Boot property/);
  assert.throws(() => memberPaths({}, 'Systems', 10), /Systems is not a collection: it lacks Members/);
  assert.throws(() => memberPaths({ Members: [{}] }, 'Systems', 10), /member 0 without @odata.id/);
  assert.throws(
    () => parseJson('<html>oops</html>', 'GET /x'),
    (e: Error & { code?: string }) => e.code === 'REDFISH_PROTOCOL' && /GET \/x answered with a body that is not JSON \('<html>oops<\/html>'\)/.test(e.message),
  );
  assert.equal(etagOf({ '@odata.etag': 'W/"1"' }, undefined), 'W/"1"');
  assert.equal(etagOf({ '@odata.etag': 'W/"1"' }, '"2"'), '"2"');
});
