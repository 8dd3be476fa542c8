#!/usr/bin/env node
// The exact-match resolver of bench/bench_nlu.py: virtual-alexa (Bespoken) over an interaction model, posting
// each request to a running skill service over HTTP.
//
//   node va_driver.js --model interaction_model/en-US.json --url http://127.0.0.1:PORT/alexa
//
// stdin: one JSON object per line, {"id": ..., "text": "..."}; stdout: one JSON object per line,
// {"id", "text", "matched", "request_type", "intent", "slots", "response"} (response: the skill's raw JSON),
// or {"id", "text", "error"} when the request failed.
//
// Each utterance is a new session of a new user on a new device (a fresh VirtualAlexa over the one parsed model),
// so no answer depends on an earlier one. Matching is virtual-core's: every sample becomes an anchored,
// case-insensitive regular expression (slots as wildcards checked against custom slot values), the utterance's
// punctuation is dropped, and the longest literal match wins. Two departures from VirtualAlexa.utter(), both to
// behave like a device in an open session:
// - utter() takes any utterance containing "ask", "tell", "open" or "launch" anywhere (even inside "task" or
//   "tell me more") as a launch phrase; here only "<verb> <invocation name> [...]" is one.
// - utter() throws when no sample matches; a device sends AMAZON.FallbackIntent, and so does this driver.
"use strict";

const readline = require("readline");
const { VirtualAlexa } = require("virtual-alexa/lib/src/core/VirtualAlexa");
const { InteractionModel } = require("virtual-alexa/lib/src/model/InteractionModel");
const { RemoteSkillInteractor } = require("virtual-alexa/lib/src/impl/RemoteSkillInteractor");
const { SkillRequest } = require("virtual-alexa/lib/src/core/SkillRequest");
const { Utterance } = require("virtual-core");

const FALLBACK_INTENT = "AMAZON.FallbackIntent";
const LAUNCH_VERBS = ["open up", "open", "launch", "start", "begin", "load", "run", "use", "talk to"];
const ONE_SHOT_VERBS = ["ask", "tell", ...LAUNCH_VERBS];
const LINK_WORDS = ["to", "for", "about", "if", "whether", "and", "that"];
// virtual-core drops these characters from utterances before matching.
const PUNCTUATION = /[!"¿?|#$%/()=+\-_<>*{}·¡[\].,;:]/g;

function parseArgs(argv) {
    const args = { locale: "en-US", applicationId: "amzn1.ask.skill.letdown-bench-nlu" };
    for (let i = 0; i < argv.length; i += 2) {
        const key = argv[i].replace(/^--/, "").replace(/-([a-z])/g, (_, c) => c.toUpperCase());
        args[key] = argv[i + 1];
    }
    if (!args.model || !args.url) {
        throw new Error("usage: va_driver.js --model MODEL.json --url http://127.0.0.1:PORT/alexa [--locale en-US]");
    }
    return args;
}

function escapeRegex(text) {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// "open let down helper" → {launch: true}; "ask let down helper to X" → {text: "X"}; anything else unchanged.
function splitInvocation(text, invocationName) {
    const spoken = text.toLowerCase().replace(PUNCTUATION, " ").replace(/\s+/g, " ").trim();
    const name = escapeRegex(invocationName.toLowerCase());
    const launch = new RegExp(`^(?:alexa )?(?:${LAUNCH_VERBS.join("|")}) (?:the )?${name}(?: skill)?$`);
    if (launch.test(spoken)) {
        return { launch: true };
    }
    const oneShot = new RegExp(`^(?:alexa )?(?:${ONE_SHOT_VERBS.join("|")}) (?:the )?${name} (?:skill )?(?:(?:${LINK_WORDS.join("|")}) )?(.+)$`);
    const match = oneShot.exec(spoken);
    return { launch: false, text: match ? match[1] : text };
}

function newAlexa(model, args) {
    const interactor = new RemoteSkillInteractor(args.url);
    const alexa = new VirtualAlexa(interactor, model, args.locale, args.applicationId);
    interactor._alexa = alexa;
    return alexa;
}

async function resolveAndCall(model, invocationName, args, text) {
    const alexa = newAlexa(model, args);
    const spoken = splitInvocation(text, invocationName);
    if (spoken.launch) {
        const response = await alexa.launch();
        return { matched: true, request_type: "LaunchRequest", intent: null, slots: {}, response };
    }
    const utterance = new Utterance(model, spoken.text);
    const matched = utterance.matched();
    const intent = matched ? utterance.intent() : FALLBACK_INTENT;
    const slots = matched ? utterance.toJSON() : {};
    const request = new SkillRequest(alexa).intent(intent).slots(slots);
    const response = await alexa.call(request);
    return { matched, request_type: "IntentRequest", intent, slots, response };
}

function plain(response) {
    // SkillResponse wraps the raw JSON; keep only the skill's own fields.
    const { version, sessionAttributes, response: body } = response;
    return { version, sessionAttributes: sessionAttributes || {}, response: body || {} };
}

async function main() {
    const args = parseArgs(process.argv.slice(2));
    const model = InteractionModel.fromFile(args.model);
    const document = JSON.parse(require("fs").readFileSync(args.model, "utf8"));
    const invocationName = document.interactionModel.languageModel.invocationName || "";
    const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
    for await (const line of lines) {
        if (!line.trim()) {
            continue;
        }
        const { id, text } = JSON.parse(line);
        let result;
        try {
            const answer = await resolveAndCall(model, invocationName, args, text);
            result = { id, text, ...answer, response: plain(answer.response) };
        } catch (error) {
            result = { id, text, error: String(error && error.message ? error.message : error) };
        }
        process.stdout.write(JSON.stringify(result) + "\n");
    }
}

main().catch((error) => {
    process.stderr.write(`va_driver: ${error && error.stack ? error.stack : error}\n`);
    process.exit(1);
});
