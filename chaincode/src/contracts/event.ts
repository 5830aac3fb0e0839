import { unimplemented } from '../service/errors';
import { defineHandlers } from './handlers';

/**
 * Events are not stored in world state (design.md): the gateway serves QueryEvents and SubscribeToEvents from
 * the `chaincode-updates` chaincode events of the channel. The chaincode function exists so that a caller of
 * the 0.37.0 surface gets a clear answer.
 */
export const eventHandlers = defineHandlers('EventService', {
    QueryEvents: () =>
        Promise.reject(
            unimplemented(
                'QueryEvents is not served by the chaincode: the gateway answers it from the chaincode events of the channel',
            ),
        ),
});
