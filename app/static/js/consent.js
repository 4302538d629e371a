/* Optional enhancement of the consent banner: send the choice without a page reload, then move
   focus to the content. Without this script the banner is a plain form and works the same. */
(function () {
  var form = document.querySelector("[data-consent-form]");
  if (!form || !window.fetch || !window.FormData) return;
  form.addEventListener("submit", function (event) {
    var button = event.submitter;
    if (!button || !button.value) return;
    event.preventDefault();
    var data = new FormData(form);
    data.set("action", button.value);
    // getAttribute: the buttons are named "action", which shadows form.action.
    fetch(form.getAttribute("action"), { method: "POST", body: data, credentials: "same-origin", redirect: "manual" })
      .then(function (response) {
        if (response.type !== "opaqueredirect" && !response.ok) throw new Error("consent not saved");
        var banner = document.getElementById("consent-banner");
        if (banner) banner.remove();
        var main = document.getElementById("main");
        if (main) main.focus();
      })
      .catch(function () {
        var input = document.createElement("input");
        input.type = "hidden"; input.name = "action"; input.value = button.value;
        form.appendChild(input);
        form.submit();
      });
  });
})();
