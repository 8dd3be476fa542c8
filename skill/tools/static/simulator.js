// Let-Down Helper simulator page: the browser plays the part of an Echo.
//
// The server builds every Alexa envelope; this page keeps what a device keeps (the session, the audio
// player and its queue), sends utterances, and reports AudioPlayer events as a device does:
// PlaybackStarted when a stream starts, PlaybackStopped with the offset when it stops,
// PlaybackNearlyFinished near the end, PlaybackFinished at the end, PlaybackFailed on errors.
(() => {
  "use strict";

  const NEARLY_FINISHED_S = 15; // report PlaybackNearlyFinished this long before the end
  const SILENCE_TIMEOUT_MS = 8000; // an Echo waits about 8 s before the reprompt
  const SPEECH_START_GRACE_MS = 2000; // no speech engine if nothing has started by then
  const DUCKED_VOLUME = 0.3; // the stream's volume while Alexa speaks over it
  const USER_KEY = "letdown-simulator-user";
  const MUTE_KEY = "letdown-simulator-muted";
  const LOCALE_KEY = "letdown-simulator-locale";

  const $ = (selector) => document.querySelector(selector);
  const els = {
    form: $("#composer"),
    input: $("#utterance"),
    send: $("#send"),
    mic: $("#mic"),
    transcript: $("#transcript"),
    status: $("#session-status"),
    player: $("#player"),
    clips: $("#clips"),
    nowPlaying: $("#now-playing"),
    queue: $("#queue"),
    mute: $("#mute"),
    voiceNote: $("#voice-note"),
    timeouts: $("#timeouts"),
    forget: $("#forget"),
    locale: $("#locale"),
  };

  const state = {
    userKey: loadUserKey(),
    session: null, // {session_id, attributes} while the skill keeps the session open
    current: null, // the AudioPlayer item loaded in #player: {token, url, title, subtitle}
    queue: [], // enqueued items, played in order after the current one finishes
    activity: "IDLE", // what the device reports as context.AudioPlayer.playerActivity
    startedReported: false,
    nearlyReported: false,
    turn: 0, // bumped by every utterance, so a stale reply does not start audio (barge-in)
    silenceTimer: null,
    ducks: 0,
    normalVolume: 1,
    pending: Promise.resolve(), // requests go to the server one at a time, in order
  };

  // ---------------------------------------------------------------------------------------------
  // Small helpers

  function randomKey() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  function storageGet(key) {
    try {
      return window.localStorage.getItem(key);
    } catch {
      return null;
    }
  }

  function storageSet(key, value) {
    try {
      window.localStorage.setItem(key, value);
    } catch {
      /* private mode: the value lives for this page only */
    }
  }

  function loadUserKey() {
    const stored = storageGet(USER_KEY);
    if (stored && /^[A-Za-z0-9_-]{8,64}$/.test(stored)) return stored;
    const fresh = randomKey();
    storageSet(USER_KEY, fresh);
    return fresh;
  }

  function hasScreen() {
    return $("#device-echo-show").checked;
  }

  function hasAudioPlayer() {
    return $("#device-audio-player").checked || hasScreen();
  }

  function offsetMs() {
    const seconds = els.player.currentTime;
    return Number.isFinite(seconds) ? Math.max(0, Math.round(seconds * 1000)) : 0;
  }

  function playerContext() {
    if (!state.current) return { token: null, offset_ms: 0, activity: "IDLE" };
    return { token: state.current.token, offset_ms: offsetMs(), activity: state.activity };
  }

  function currentLocale() {
    return els.locale && els.locale.value ? els.locale.value : "en-US";
  }

  function showLocaleChips() {
    const language = currentLocale().split("-")[0];
    document.querySelectorAll(".chip[data-lang]").forEach((chip) => {
      chip.hidden = chip.dataset.lang !== language;
    });
  }

  function device() {
    return { user_id: state.userKey, audio_player: hasAudioPlayer(), apl: hasScreen(), player: playerContext(), locale: currentLocale() };
  }

  // One request at a time, in order: a PlaybackStopped must reach the skill before the next "resume".
  function serial(task) {
    const run = state.pending.then(task, task);
    state.pending = run.catch(() => undefined);
    return run;
  }

  async function post(path, body) {
    const response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(body),
    });
    let data = null;
    try {
      data = await response.json();
    } catch {
      data = null;
    }
    if (!response.ok) {
      throw new Error((data && data.error) || `the server answered ${response.status}`);
    }
    return data;
  }

  // ---------------------------------------------------------------------------------------------
  // Transcript

  function element(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  function append(node) {
    els.transcript.appendChild(node);
    els.transcript.scrollTop = els.transcript.scrollHeight;
    return node;
  }

  function addNote(text, event) {
    const note = element("li", "turn note", text);
    if (event) note.dataset.event = event;
    return append(note);
  }

  function addError(text) {
    const item = element("li", "turn error", text);
    item.setAttribute("role", "alert");
    return append(item);
  }

  function addUserTurn(text) {
    const item = element("li", "turn user");
    item.appendChild(element("span", "who", "You"));
    item.appendChild(element("p", "said", text));
    return append(item);
  }

  function describeSlots(slots) {
    return Object.entries(slots || {})
      .filter(([, value]) => value !== null && value !== undefined)
      .map(([name, value]) => {
        if (typeof value === "object") return `${name}: ${value.value} (${value.id})`;
        return `${name}: ${value}`;
      })
      .join(", ");
  }

  function showHeard(userItem, data) {
    const heard = element("p", "heard");
    const intent = data.heard && data.heard.intent;
    heard.dataset.request = data.request_type || "";
    if (intent) {
      heard.dataset.intent = intent;
      heard.append("heard as ", element("code", null, intent));
      const slots = describeSlots(data.heard.slots);
      if (slots) heard.append(` · ${slots}`);
    } else if (data.request_type) {
      heard.dataset.intent = "";
      heard.append("sent as ", element("code", null, data.request_type));
    } else {
      heard.append("nothing sent to the skill");
    }
    userItem.appendChild(heard);
  }

  function describeAction(action) {
    const name = action.title || action.token || "a track";
    if (action.action === "play") {
      if (action.behavior === "ENQUEUE") return `queues: ${name}`;
      if (action.behavior === "REPLACE_ENQUEUED") return `queues instead: ${name}`;
      const from = action.offset_ms > 0 ? ` from ${formatTime(action.offset_ms / 1000)}` : "";
      return `plays: ${name}${from}`;
    }
    if (action.action === "stop") return "stops the audio";
    if (action.action === "clear_queue") return action.behavior === "CLEAR_ALL" ? "stops and clears the queue" : "clears the queue";
    return action.action;
  }

  function addAlexaTurn(data) {
    const item = element("li", "turn alexa");
    item.dataset.request = data.request_type || "";
    item.appendChild(element("span", "who", "Alexa"));
    const speech = element("p", "speech", data.speech || "");
    if (!data.speech) speech.hidden = true;
    item.appendChild(speech);
    if (data.reprompt) {
      const reprompt = element("p", "reprompt", `If you say nothing: “${data.reprompt}”`);
      item.appendChild(reprompt);
    }
    if (data.playback && data.playback.length) {
      const list = element("ul", "directives");
      list.setAttribute("aria-label", "What the device does");
      data.playback.forEach((action) => list.appendChild(element("li", null, describeAction(action))));
      item.appendChild(list);
    }
    const details = element("details", "details");
    details.appendChild(element("summary", null, "Response details"));
    const raw = {
      end_session: data.end_session,
      session_attributes: data.session_attributes,
      ssml: data.ssml,
      directives: data.directives,
    };
    details.appendChild(element("pre", null, JSON.stringify(raw, null, 2)));
    item.appendChild(details);
    return append(item);
  }

  function setSession(session) {
    state.session = session || null;
    const open = Boolean(state.session);
    els.status.dataset.state = open ? "open" : "closed";
    els.status.textContent = open ? "Session open" : "No session open";
  }

  function formatTime(seconds) {
    const whole = Math.max(0, Math.floor(seconds));
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function showNowPlaying() {
    if (!state.current) {
      els.nowPlaying.textContent = "Nothing playing";
      els.nowPlaying.dataset.state = "idle";
    } else {
      const title = state.current.title || state.current.token;
      const subtitle = state.current.subtitle ? ` · ${state.current.subtitle}` : "";
      const paused = state.activity === "PLAYING" ? "" : " (stopped)";
      els.nowPlaying.textContent = `${title}${subtitle}${paused}`;
      els.nowPlaying.dataset.state = state.activity.toLowerCase();
    }
    els.queue.hidden = state.queue.length === 0;
    els.queue.textContent = state.queue.length
      ? `Up next: ${state.queue.map((item) => item.title || item.token).join(", ")}`
      : "";
  }

  // ---------------------------------------------------------------------------------------------
  // Speech: the browser's voice where there is one, and SSML <audio> clips in order

  function muted() {
    return els.mute.checked || !("speechSynthesis" in window);
  }

  function speak(text) {
    if (muted() || !text) return Promise.resolve();
    return new Promise((resolve) => {
      const utterance = new SpeechSynthesisUtterance(text);
      utterance.lang = currentLocale();
      utterance.rate = 0.95;
      let started = false;
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        clearTimeout(graceTimer);
        clearTimeout(capTimer);
        resolve();
      };
      utterance.onstart = () => {
        started = true;
      };
      utterance.onend = finish;
      utterance.onerror = finish;
      // Some browsers (and headless ones) have no voices and never start: do not wait forever.
      const graceTimer = setTimeout(() => {
        if (!started) finish();
      }, SPEECH_START_GRACE_MS);
      const capTimer = setTimeout(finish, 120000);
      window.speechSynthesis.speak(utterance);
    });
  }

  function playClip(url) {
    return new Promise((resolve) => {
      const clip = els.clips;
      const done = () => {
        clip.removeEventListener("ended", done);
        clip.removeEventListener("error", done);
        resolve();
      };
      clip.addEventListener("ended", done);
      clip.addEventListener("error", done);
      clip.src = url;
      clip.play().catch(done);
    });
  }

  // Alexa ducks its own stream while it speaks, then carries on (overlapping replies duck once).
  function duck() {
    if (state.ducks++ === 0) {
      state.normalVolume = els.player.volume;
      els.player.volume = Math.min(state.normalVolume, DUCKED_VOLUME);
    }
  }

  function unduck() {
    if (--state.ducks === 0) els.player.volume = state.normalVolume;
  }

  async function renderSpeech(segments, turn) {
    if (!segments || !segments.length) return;
    duck();
    try {
      await renderSegments(segments, turn);
    } finally {
      unduck();
    }
  }

  async function renderSegments(segments, turn) {
    for (const segment of segments) {
      if (turn !== state.turn) return;
      if (segment.say) {
        await speak(segment.say);
      } else if (segment.audio) {
        await playClip(segment.audio);
      } else if (segment.source_url) {
        addNote(`(a sound the browser cannot play: ${segment.source_url})`);
      }
    }
  }

  function silenceSpeech() {
    if ("speechSynthesis" in window) window.speechSynthesis.cancel();
    if (!els.clips.paused) els.clips.pause();
  }

  // ---------------------------------------------------------------------------------------------
  // The AudioPlayer

  function sendEvent(type, extra) {
    if (!hasAudioPlayer()) return Promise.resolve();
    const token = state.current ? state.current.token : null;
    const offset = offsetMs();
    const player = { token, offset_ms: offset, activity: state.activity };
    return serial(() =>
      post("/simulator/api/event", {
        type,
        token,
        offset_ms: offset,
        device: { user_id: state.userKey, audio_player: true, apl: hasScreen(), player, locale: currentLocale() },
        ...extra,
      })
    )
      .then((data) => applyPlayback(data.playback || []))
      .catch((error) => addError(`${type} was not delivered: ${error.message}`));
  }

  function load(item) {
    state.current = item;
    state.activity = "IDLE";
    state.startedReported = false;
    state.nearlyReported = false;
    const wanted = new URL(item.url, window.location.href).href;
    if (els.player.currentSrc !== wanted && els.player.src !== wanted) {
      els.player.src = item.url;
    }
    const seconds = (item.offset_ms || 0) / 1000;
    const start = () => {
      try {
        els.player.currentTime = seconds;
      } catch {
        /* not seekable yet: plays from the start */
      }
      els.player.play().catch((error) => {
        addNote(`The browser did not start the track (${error.message}). Press play on the player.`);
      });
    };
    if (els.player.readyState >= HTMLMediaElement.HAVE_METADATA) start();
    else els.player.addEventListener("loadedmetadata", start, { once: true });
    showNowPlaying();
  }

  // Stop the current stream as a device does when told to, reporting PlaybackStopped for it now (the
  // "pause" event comes later, possibly after the next item has replaced it).
  function stopCurrent() {
    if (!state.current || els.player.paused) return;
    if (state.activity === "PLAYING") {
      sendEvent("AudioPlayer.PlaybackStopped");
      state.activity = "STOPPED";
      state.startedReported = false;
    }
    els.player.pause();
    showNowPlaying();
  }

  function applyPlayback(actions) {
    for (const action of actions) {
      if (action.action === "stop") {
        stopCurrent();
      } else if (action.action === "clear_queue") {
        state.queue = [];
        if (action.behavior === "CLEAR_ALL") stopCurrent();
      } else if (action.action === "play") {
        if (!action.url) {
          addNote(`(a stream the browser cannot play: ${action.source_url})`);
          continue;
        }
        if (action.behavior === "ENQUEUE") {
          state.queue.push(action);
        } else if (action.behavior === "REPLACE_ENQUEUED") {
          state.queue = [action];
        } else {
          stopCurrent();
          state.queue = [];
          load(action);
        }
      }
    }
    showNowPlaying();
  }

  function onPlaying() {
    if (!state.current) return;
    state.activity = "PLAYING";
    showNowPlaying();
    if (!state.startedReported) {
      state.startedReported = true;
      sendEvent("AudioPlayer.PlaybackStarted");
    }
  }

  function onPause() {
    // A finished track also fires "pause" first; "ended" reports it.
    if (!state.current || els.player.ended || state.activity !== "PLAYING") return;
    state.activity = "STOPPED";
    state.startedReported = false; // pressing play again is a new start
    showNowPlaying();
    sendEvent("AudioPlayer.PlaybackStopped");
  }

  function onTimeUpdate() {
    if (!state.current || state.nearlyReported || state.activity !== "PLAYING") return;
    const duration = els.player.duration;
    if (Number.isFinite(duration) && els.player.currentTime >= duration - NEARLY_FINISHED_S) {
      state.nearlyReported = true;
      sendEvent("AudioPlayer.PlaybackNearlyFinished");
    }
  }

  function onEnded() {
    if (!state.current) return;
    state.activity = "FINISHED";
    const finished = state.current;
    sendEvent("AudioPlayer.PlaybackFinished").then(() => {
      const next = state.queue.shift();
      if (next && state.current === finished) load(next);
      showNowPlaying();
    });
    showNowPlaying();
  }

  function onError() {
    if (!state.current || !els.player.getAttribute("src")) return;
    const error = els.player.error;
    state.activity = "STOPPED";
    showNowPlaying();
    addNote(`The track could not be played${error && error.message ? ` (${error.message})` : ""}.`);
    sendEvent("AudioPlayer.PlaybackFailed", { error: (error && error.message) || "media error" });
  }

  // ---------------------------------------------------------------------------------------------
  // A turn of the conversation

  function clearSilenceTimer() {
    if (state.silenceTimer) clearTimeout(state.silenceTimer);
    state.silenceTimer = null;
  }

  function startSilenceTimer(data) {
    clearSilenceTimer();
    if (!els.timeouts.checked || !state.session || !data.reprompt) return;
    state.silenceTimer = setTimeout(async () => {
      addNote("(silence) Alexa reprompts:", "reprompt");
      const turn = state.turn;
      await speak(data.reprompt);
      if (turn !== state.turn) return;
      state.silenceTimer = setTimeout(() => endSession("EXCEEDED_MAX_REPROMPTS"), SILENCE_TIMEOUT_MS);
    }, SILENCE_TIMEOUT_MS);
  }

  function noteSessionChange(data) {
    if (data.session_ended === "USER_INITIATED") {
      addNote("Session ended: you said exit.", "session-ended");
    } else if (data.session_ended === "EXCEEDED_MAX_REPROMPTS") {
      addNote("Session ended: no answer after the reprompt.", "session-ended");
    } else if (data.session_ended === "SKILL_ENDED") {
      addNote("The skill closed the session; say something to start a new one.", "session-ended");
    } else if (data.note && data.note !== "new session") {
      addNote(`(${data.note})`, "device-note");
    }
  }

  // The Echo Show screen: what the skill's RenderDocument data says, drawn without an APL renderer.
  function showScreen(screen) {
    if (!screen || !hasScreen()) return;
    const circle = $("#breathing-circle");
    $("#screen-instruction").textContent = screen.instruction;
    $("#screen-step").textContent = screen.step;
    circle.getAnimations().forEach((animation) => animation.cancel());
    const breath = screen.inhale_ms + screen.exhale_ms;
    if (breath > 0 && screen.cycles > 0) {
      circle.animate(
        [
          { transform: "scale(0.6)", easing: "ease-in-out" },
          { transform: "scale(1)", offset: screen.inhale_ms / breath, easing: "ease-in-out" },
          { transform: "scale(0.6)" },
        ],
        { duration: breath, iterations: screen.cycles, delay: screen.start_delay_ms }
      );
    }
    Object.assign(circle.dataset, {
      inhaleMs: String(screen.inhale_ms),
      exhaleMs: String(screen.exhale_ms),
      cycles: String(screen.cycles),
    });
    $("#screen").dataset.state = "breathing";
  }

  function clearScreen() {
    $("#breathing-circle").getAnimations().forEach((animation) => animation.cancel());
    $("#screen-instruction").textContent = "";
    $("#screen-step").textContent = "";
    $("#screen").dataset.state = "idle";
  }

  function showDeviceKind() {
    $("#screen-panel").hidden = !hasScreen();
    clearScreen();
  }

  async function applyTurn(data, userItem, turn) {
    if (userItem) showHeard(userItem, data);
    showScreen(data.screen);
    setSession(data.session_state);
    // A one-shot turn (new session, closed at once, as when a track starts) only gets the closing note.
    if (data.note === "new session" && data.session_open) addNote("A new session started.", "session-started");
    if (data.request_type && (data.speech || data.reprompt || (data.playback && data.playback.length))) {
      addAlexaTurn(data);
    }
    noteSessionChange(data);
    const playNow = (data.playback || []).filter((action) => action.action !== "play");
    const playAfterSpeech = (data.playback || []).filter((action) => action.action === "play");
    applyPlayback(playNow);
    await renderSpeech(data.segments, turn);
    if (turn !== state.turn) return; // the user spoke over this reply
    applyPlayback(playAfterSpeech);
    startSilenceTimer(data);
  }

  async function sendUtterance(text) {
    const trimmed = text.trim();
    if (!trimmed) return;
    const turn = ++state.turn;
    clearSilenceTimer();
    silenceSpeech();
    const userItem = addUserTurn(trimmed);
    els.send.disabled = true;
    try {
      const data = await serial(() =>
        post("/simulator/api/utterance", { text: trimmed, session_state: state.session, device: device() })
      );
      els.send.disabled = false;
      await applyTurn(data, userItem, turn);
    } catch (error) {
      addError(`Not sent: ${error.message}`);
    } finally {
      els.send.disabled = false;
    }
  }

  async function endSession(reason) {
    clearSilenceTimer();
    if (!state.session) return;
    const turn = ++state.turn;
    try {
      const data = await serial(() =>
        post("/simulator/api/end", { reason, session_state: state.session, device: device() })
      );
      await applyTurn(data, null, turn);
    } catch (error) {
      addError(`The session could not be ended: ${error.message}`);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Speech recognition (where the browser has it)

  function setUpMicrophone() {
    const Recognition = window.SpeechRecognition || window.webkitSpeechRecognition;
    if (!Recognition) return;
    els.mic.hidden = false;
    let recognition = null;
    els.mic.addEventListener("click", () => {
      if (recognition) {
        recognition.stop();
        return;
      }
      recognition = new Recognition();
      recognition.lang = currentLocale();
      recognition.interimResults = true;
      recognition.maxAlternatives = 1;
      els.mic.setAttribute("aria-pressed", "true");
      silenceSpeech();
      clearSilenceTimer();
      recognition.onresult = (event) => {
        const result = event.results[event.results.length - 1];
        els.input.value = result[0].transcript;
        if (result.isFinal) {
          const said = els.input.value;
          els.input.value = "";
          sendUtterance(said);
        }
      };
      recognition.onerror = (event) => {
        addNote(`Speech recognition stopped (${event.error}). You can type instead.`);
      };
      recognition.onend = () => {
        recognition = null;
        els.mic.setAttribute("aria-pressed", "false");
      };
      try {
        recognition.lang = currentLocale();
        recognition.start();
      } catch (error) {
        addNote(`Speech recognition is not available (${error.message}).`);
        recognition = null;
        els.mic.setAttribute("aria-pressed", "false");
      }
    });
  }

  // ---------------------------------------------------------------------------------------------
  // Wiring

  function resetDevice(message) {
    clearSilenceTimer();
    silenceSpeech();
    state.turn += 1;
    state.queue = [];
    if (state.current) {
      state.activity = "STOPPED"; // a different device: nothing is reported for the old one
      els.player.pause();
    }
    state.current = null;
    els.player.removeAttribute("src");
    els.player.load();
    setSession(null);
    showNowPlaying();
    addNote(message, "device-reset");
  }

  els.form.addEventListener("submit", (event) => {
    event.preventDefault();
    const text = els.input.value;
    els.input.value = "";
    sendUtterance(text);
    els.input.focus();
  });

  els.input.addEventListener("input", clearSilenceTimer);

  document.querySelectorAll(".chip").forEach((chip) => {
    chip.addEventListener("click", () => sendUtterance(chip.dataset.say));
  });

  document.querySelectorAll('input[name="device-kind"]').forEach((radio) => {
    radio.addEventListener("change", () => {
      showDeviceKind();
      const kinds = { "echo-show": "Now an Echo Show, with a screen.", "audio-player": "Now an Echo with AudioPlayer." };
      resetDevice(kinds[radio.value] || "Now a speaker without AudioPlayer.");
    });
  });

  const savedLocale = storageGet(LOCALE_KEY);
  if (savedLocale && [...els.locale.options].some((option) => option.value === savedLocale)) {
    els.locale.value = savedLocale;
  }
  showLocaleChips();
  els.locale.addEventListener("change", () => {
    storageSet(LOCALE_KEY, currentLocale());
    showLocaleChips();
    const name = els.locale.selectedOptions[0].dataset.invocation;
    resetDevice(`Now a device set to ${currentLocale()}. Try "open ${name}".`);
  });

  els.mute.checked = storageGet(MUTE_KEY) === "1";
  els.mute.addEventListener("change", () => {
    storageSet(MUTE_KEY, els.mute.checked ? "1" : "0");
    if (els.mute.checked) silenceSpeech();
  });
  if (!("speechSynthesis" in window)) {
    els.mute.checked = true;
    els.mute.disabled = true;
    els.voiceNote.textContent = "(this browser has no speech synthesis)";
  }

  els.forget.addEventListener("click", () => {
    state.userKey = randomKey();
    storageSet(USER_KEY, state.userKey);
    resetDevice("You are a new user now: the skill has no memory of you.");
  });

  els.player.addEventListener("playing", onPlaying);
  els.player.addEventListener("pause", onPause);
  els.player.addEventListener("timeupdate", onTimeUpdate);
  els.player.addEventListener("ended", onEnded);
  els.player.addEventListener("error", onError);

  setUpMicrophone();
  showDeviceKind();
  showNowPlaying();
  setSession(null);
})();
