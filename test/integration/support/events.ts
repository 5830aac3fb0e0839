// Event consumers as a Substra backend runs them, for the fault and upgrade suites: a subscriber that resumes from
// its last event id whenever its stream breaks, and the full list of a channel's event ids through QueryEvents.

import type { orchestrator } from '@substra-fabric/api';
import type { OrgClient } from './client';

/** A subscriber that resumes from its last event id when its stream fails, as a backend does. */
export class ResumingSubscriber {
    readonly ids: string[] = [];
    duplicates = 0;
    resumes = 0;
    readonly #seen = new Set<string>();
    #cancel: (() => void) | undefined;
    #stopped = false;

    constructor(readonly client: OrgClient) {
        this.#open();
    }

    has(id: string): boolean {
        return this.#seen.has(id);
    }

    /** distinct events received */
    get received(): number {
        return this.#seen.size;
    }

    #open(): void {
        const subscription = this.client.subscribe(this.ids.at(-1) ?? '');
        this.#cancel = () => {
            subscription.cancel();
        };
        subscription.stream.on('data', (event: orchestrator.IEvent) => {
            const id = event.id ?? '';
            if (this.#seen.has(id)) this.duplicates++;
            this.#seen.add(id);
            this.ids.push(id);
        });
        subscription.stream.on('error', () => {
            if (this.#stopped) return;
            this.resumes++;
            setTimeout(() => {
                if (!this.#stopped) this.#open();
            }, 300);
        });
    }

    /** Cancels the stream; a later {@link resume} continues from the last event id received. */
    pause(): void {
        this.#stopped = true;
        this.#cancel?.();
    }

    resume(): void {
        this.#stopped = false;
        this.#open();
    }
}

export async function allEventIds(client: OrgClient): Promise<string[]> {
    const ids: string[] = [];
    let token = '';
    do {
        const page = await client.call<orchestrator.IQueryEventsResponse>('EventService/QueryEvents', {
            page_token: token,
            page_size: 1000,
        });
        for (const e of page.events ?? []) ids.push(e.id ?? '');
        token = page.next_page_token ?? '';
    } while (token);
    return ids;
}
