/* Passkeys: hand the server's options to the browser's authenticator, put its answer into the
   form and send the form. Without this script (or without passkey support) the buttons stay
   hidden and the password with an app code or a recovery code works as before; the pages say so.
   Texts come from the form's data-msg-* attributes, translated by the server. */
(function () {
  "use strict";
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function toBytes(text) {
    var base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    var binary = atob(base64 + "===".slice((base64.length + 3) % 4));
    return Uint8Array.from(binary, function (c) { return c.charCodeAt(0); });
  }
  function toText(buffer) {
    var binary = String.fromCharCode.apply(null, new Uint8Array(buffer));
    return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }
  function withBytes(list) {
    return (list || []).map(function (c) { return Object.assign({}, c, { id: toBytes(c.id) }); });
  }
  // The browser's own JSON parsers where it has them (Chrome 129+, Firefox 119+, Safari 18.4+).
  function requestOptions(json) {
    if (PublicKeyCredential.parseRequestOptionsFromJSON) return PublicKeyCredential.parseRequestOptionsFromJSON(json);
    return Object.assign({}, json, { challenge: toBytes(json.challenge), allowCredentials: withBytes(json.allowCredentials) });
  }
  function creationOptions(json) {
    if (PublicKeyCredential.parseCreationOptionsFromJSON) return PublicKeyCredential.parseCreationOptionsFromJSON(json);
    return Object.assign({}, json, {
      challenge: toBytes(json.challenge), user: Object.assign({}, json.user, { id: toBytes(json.user.id) }),
      excludeCredentials: withBytes(json.excludeCredentials)
    });
  }
  function answer(credential) {
    if (credential.toJSON) return credential.toJSON();
    var r = credential.response, response = { clientDataJSON: toText(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = toText(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = toText(r.authenticatorData);
      response.signature = toText(r.signature);
      if (r.userHandle) response.userHandle = toText(r.userHandle);
    }
    return { id: credential.id, rawId: toText(credential.rawId), type: credential.type, response: response,
             clientExtensionResults: credential.getClientExtensionResults(),
             authenticatorAttachment: credential.authenticatorAttachment };
  }

  document.querySelectorAll("form[data-passkey]").forEach(function (form) {
    var status = form.querySelector("[data-passkey-status]");
    var button = form.querySelector("[data-passkey-start]");
    var creating = form.getAttribute("data-passkey") === "create";
    var options = JSON.parse(form.getAttribute("data-options"));
    var waiting = null; // the conditional (autofill) request, stopped before a button's request
    function say(name) {
      status.textContent = form.getAttribute("data-msg-" + name);
      status.hidden = false;
    }
    if (location.origin !== form.getAttribute("data-origin")) { say("elsewhere"); return; }

    function send(credential) {
      form.querySelector("input[name=credential]").value = JSON.stringify(answer(credential));
      var remember = document.querySelector("input[type=checkbox][name=remember]");
      var kept = form.querySelector("input[name=remember]");
      if (remember && kept) kept.value = remember.checked ? "y" : "";
      form.submit();
    }
    function failed(error) {
      if (error && error.name === "AbortError") return;
      say(error && error.name === "NotAllowedError" ? "cancelled"
        : error && error.name === "InvalidStateError" ? "exists" : "failed");
      button.disabled = false;
    }
    button.hidden = false;
    button.addEventListener("click", function () {
      if (waiting) waiting.abort();
      status.hidden = true;
      button.disabled = true;
      var request = creating ? navigator.credentials.create({ publicKey: creationOptions(options) })
                             : navigator.credentials.get({ publicKey: requestOptions(options) });
      request.then(send, failed);
    });
    if (form.hasAttribute("data-passkey-conditional") && PublicKeyCredential.isConditionalMediationAvailable) {
      PublicKeyCredential.isConditionalMediationAvailable().then(function (available) {
        if (!available) return;
        waiting = new AbortController();
        navigator.credentials.get({ mediation: "conditional", signal: waiting.signal,
                                    publicKey: requestOptions(options) }).then(send, failed);
      });
    }
  });
})();
