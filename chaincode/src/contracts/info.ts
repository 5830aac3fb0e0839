import { defineHandlers } from './handlers';

export const infoHandlers = defineHandlers('InfoService', {
    QueryVersion: (services) => Promise.resolve(services.info.queryVersion()),
});
