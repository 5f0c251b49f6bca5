// The call recorder. It enhances a form that already works without JavaScript (a plain file
// upload): pick a microphone, record with MediaRecorder, watch a timer and a level meter, listen
// back, record again, then send the recording with the form's fields as multipart.
(function () {
  "use strict";

  const EXTENSIONS = { "audio/webm": "webm", "audio/ogg": "ogg", "audio/mp4": "m4a", "audio/mpeg": "mp3", "audio/wav": "wav" };

  function pickMimeType() {
    const candidates = ["audio/webm;codecs=opus", "audio/ogg;codecs=opus", "audio/webm", "audio/mp4"];
    return candidates.find((type) => MediaRecorder.isTypeSupported(type)) || "";
  }

  function formatTime(seconds) {
    const whole = Math.floor(seconds);
    return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, "0")}`;
  }

  function formatBytes(bytes) {
    return bytes >= 1048576 ? `${(bytes / 1048576).toFixed(1)} MB` : `${Math.ceil(bytes / 1024)} KB`;
  }

  function setUp(form) {
    const panel = form.querySelector("[data-recorder]");
    const fileInput = form.querySelector('input[type="file"][name="audio"]');
    const submit = form.querySelector("[data-submit]");
    const progress = form.querySelector("[data-progress]");
    const maxSeconds = Number(form.dataset.maxSeconds);
    const maxBytes = Number(form.dataset.maxBytes);
    const primary = form.dataset.primaryInstance;

    // Without MediaRecorder (or outside a secure context) the file upload is the whole form.
    const canRecord = panel && window.MediaRecorder && navigator.mediaDevices && navigator.mediaDevices.getUserMedia;
    const ui = canRecord ? {
      select: panel.querySelector("[data-microphone]"),
      start: panel.querySelector("[data-start]"),
      stop: panel.querySelector("[data-stop]"),
      again: panel.querySelector("[data-again]"),
      timer: panel.querySelector("[data-timer]"),
      level: panel.querySelector("[data-level]"),
      playback: panel.querySelector("[data-playback]"),
      status: panel.querySelector("[data-status]"),
    } : null;

    let stream = null;
    let recorder = null;
    let chunks = [];
    let recording = null;
    let startedAt = 0;
    let timerId = 0;
    let levelFrame = 0;
    let audioContext = null;
    let stoppedAtLimit = false;

    function say(message) {
      if (ui) ui.status.textContent = message;
    }

    async function listMicrophones() {
      const devices = await navigator.mediaDevices.enumerateDevices();
      const current = ui.select.value;
      ui.select.replaceChildren(new Option("Default microphone", ""));
      devices
        .filter((device) => device.kind === "audioinput" && device.deviceId && device.deviceId !== "default")
        .forEach((device, index) => ui.select.add(new Option(device.label || `Microphone ${index + 1}`, device.deviceId)));
      ui.select.value = Array.from(ui.select.options).some((option) => option.value === current) ? current : "";
    }

    function watchLevel() {
      audioContext = new AudioContext();
      const analyser = audioContext.createAnalyser();
      analyser.fftSize = 1024;
      audioContext.createMediaStreamSource(stream).connect(analyser);
      const samples = new Float32Array(analyser.fftSize);
      const draw = () => {
        analyser.getFloatTimeDomainData(samples);
        let sum = 0;
        for (const sample of samples) sum += sample * sample;
        // RMS of speech sits around 0.05-0.2; scale it so a normal voice fills half the meter.
        ui.level.value = Math.min(1, Math.sqrt(sum / samples.length) * 4);
        ui.level.textContent = `${Math.round(ui.level.value * 100)}%`;
        levelFrame = requestAnimationFrame(draw);
      };
      draw();
    }

    function tick() {
      const elapsed = (performance.now() - startedAt) / 1000;
      ui.timer.textContent = formatTime(elapsed);
      // Stop a little early: the server measures the file, which runs slightly past the clock.
      if (elapsed >= maxSeconds - 0.5) {
        stoppedAtLimit = true;
        stopRecording();
      }
    }

    // A button that gets disabled or hidden drops the keyboard focus on the page's body: carry it
    // to the control a keyboard user needs next.
    function moveFocus(from, to) {
      if (from.includes(document.activeElement) || document.activeElement === document.body) to.focus();
    }

    async function startRecording() {
      clearErrors();
      discardRecording();
      try {
        const audio = ui.select.value ? { deviceId: { exact: ui.select.value } } : true;
        stream = await navigator.mediaDevices.getUserMedia({ audio });
      } catch (error) {
        say(`The microphone is not available (${error.message}). You can upload an audio file instead.`);
        return;
      }
      listMicrophones(); // device names are only visible once the microphone is allowed
      const mimeType = pickMimeType();
      recorder = new MediaRecorder(stream, mimeType ? { mimeType } : undefined);
      chunks = [];
      recorder.addEventListener("dataavailable", (event) => { if (event.data.size) chunks.push(event.data); });
      recorder.addEventListener("stop", finishRecording);
      recorder.start(1000);
      stoppedAtLimit = false;
      startedAt = performance.now();
      ui.timer.textContent = "0:00";
      timerId = setInterval(tick, 200);
      watchLevel();
      ui.start.disabled = true;
      ui.again.hidden = true;
      ui.stop.disabled = false;
      ui.select.disabled = true;
      submit.disabled = true;
      panel.dataset.state = "recording";
      moveFocus([ui.start, ui.again], ui.stop);
      say("Recording… press Stop when you are done.");
    }

    function stopRecording() {
      if (recorder && recorder.state !== "inactive") recorder.stop();
    }

    function finishRecording() {
      const seconds = (performance.now() - startedAt) / 1000;
      clearInterval(timerId);
      cancelAnimationFrame(levelFrame);
      if (audioContext) audioContext.close();
      stream.getTracks().forEach((track) => track.stop());
      ui.level.value = 0;
      recording = new Blob(chunks, { type: recorder.mimeType || "audio/webm" });
      ui.playback.src = URL.createObjectURL(recording);
      ui.playback.hidden = false;
      ui.start.hidden = true;
      ui.start.disabled = false;
      ui.again.hidden = false;
      ui.stop.disabled = true;
      ui.select.disabled = false;
      submit.disabled = false;
      panel.dataset.state = "recorded";
      moveFocus([ui.stop], ui.playback);
      if (fileInput) fileInput.value = "";
      if (recording.size > maxBytes) {
        say(`This recording is ${formatBytes(recording.size)}, over the ${formatBytes(maxBytes)} limit. Please record a shorter one.`);
      } else {
        const limit = stoppedAtLimit ? ` That is the ${formatTime(maxSeconds)} limit, so recording stopped.` : "";
        say(`Recorded ${formatTime(seconds)}.${limit} Listen back, then send it — or record again.`);
      }
    }

    function discardRecording() {
      if (!ui) return;
      if (ui.playback.src) URL.revokeObjectURL(ui.playback.src);
      ui.playback.removeAttribute("src");
      ui.playback.hidden = true;
      recording = null;
      delete panel.dataset.state;
    }

    function clearErrors() {
      form.querySelectorAll("[data-errors-for]").forEach((list) => { list.replaceChildren(); list.hidden = true; });
    }

    function showErrors(errors) {
      clearErrors();
      let first = null;
      for (const [name, messages] of Object.entries(errors)) {
        const list = form.querySelector(`[data-errors-for="${name}"]`) || form.querySelector('[data-errors-for="__all__"]');
        messages.forEach((error) => {
          const item = document.createElement("li");
          item.textContent = error.message;
          list.append(item);
        });
        list.hidden = false;
        first = first || form.querySelector(`[name="${name}"]`) || list;
      }
      if (first) {
        if (first.focus) first.focus();
        first.scrollIntoView({ block: "center" });
      }
    }

    function send(event) {
      event.preventDefault();
      const data = new FormData(form);
      const file = fileInput && fileInput.files[0];
      if (recording) data.set("audio", recording, `call.${EXTENSIONS[recording.type.split(";")[0]] || "webm"}`);
      const size = recording ? recording.size : file ? file.size : 0;
      if (size > maxBytes) {
        showErrors({ audio: [{ message: `This recording is ${formatBytes(size)}; the limit is ${formatBytes(maxBytes)}.` }] });
        return;
      }
      const request = new XMLHttpRequest();
      request.open("POST", form.action);
      request.setRequestHeader("Accept", "application/json");
      // Fly cannot replay a body over 1 MB to the primary, so large uploads go straight there.
      if (primary) request.setRequestHeader("fly-force-instance-id", primary);
      request.upload.addEventListener("progress", (progressEvent) => {
        if (progressEvent.lengthComputable) progress.value = Math.round((progressEvent.loaded / progressEvent.total) * 100);
      });
      const done = () => { submit.disabled = false; progress.hidden = true; };
      request.addEventListener("load", () => {
        let body = {};
        try { body = JSON.parse(request.responseText); } catch (error) { body = {}; }
        if (request.status === 201 && body.url) {
          window.location.assign(body.url);
          return;
        }
        done();
        // 400/413: the form's own errors; 429/507: a limit on recordings, said in the same shape.
        if (body.errors) {
          showErrors(body.errors);
        } else if (request.status === 403) {
          showErrors({ __all__: [{ message: "Your session has expired. Copy your text, reload the page and sign in again." }] });
        } else {
          showErrors({ __all__: [{ message: `The server could not take this (status ${request.status}). Please try again.` }] });
        }
      });
      request.addEventListener("error", () => {
        done();
        showErrors({ __all__: [{ message: "The connection failed. Your recording is still here: please try again." }] });
      });
      submit.disabled = true;
      progress.value = 0;
      progress.hidden = false;
      request.send(data);
    }

    form.addEventListener("submit", send);
    if (!ui) return;
    panel.hidden = false;
    ui.start.addEventListener("click", startRecording);
    ui.stop.addEventListener("click", stopRecording);
    ui.again.addEventListener("click", startRecording);
    if (fileInput) {
      fileInput.addEventListener("change", () => {
        if (fileInput.files.length && recording) {
          discardRecording();
          ui.start.hidden = false;
          ui.again.hidden = true;
          say("The chosen file will be sent instead of a recording.");
        }
      });
    }
    navigator.mediaDevices.addEventListener("devicechange", listMicrophones);
    listMicrophones();
  }

  document.querySelectorAll("[data-recording-form]").forEach(setUp);

  // Slow forms (publishing runs ffmpeg): one click is enough, and the button says it is working.
  document.querySelectorAll("form[data-busy-label]").forEach((form) => {
    form.addEventListener("submit", () => {
      const button = form.querySelector('button[type="submit"]');
      // Disabled after the submission has started, so the button's own value is still sent.
      setTimeout(() => { button.disabled = true; button.textContent = form.dataset.busyLabel; }, 0);
    });
  });
})();
