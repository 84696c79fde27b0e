// The provider key form: choosing a preset (<select data-preset>) copies its fields, which each option carries
// as JSON in data-fields, into the form; every field stays editable. Without JavaScript the add page's
// ?preset=<name> links fill the same values on the server.
(function () {
  "use strict";

  // a provider label staff typed themselves stays; a preset's label (or the default) follows the preset
  function ownLabel(select, value) {
    if (!value || value === "openai-compatible") return false;
    return !Array.prototype.some.call(select.options, function (option) { return option.text === value; });
  }

  function fill(form, fields, select) {
    Object.keys(fields).forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input || name === "preset") return;
      if (name === "provider" && ownLabel(select, input.value)) return;
      var value = fields[name];
      if (input.type === "checkbox") {
        input.checked = Boolean(value);
      } else if (typeof value === "object") {
        input.value = JSON.stringify(value);
      } else {
        input.value = value;
      }
    });
  }

  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-preset]")) return;
    var option = select.options[select.selectedIndex];
    var fields = option && option.getAttribute("data-fields");
    if (!fields) return;
    fill(select.form, JSON.parse(fields), select);
    var baseUrl = select.form.elements.namedItem("base_url");
    if (baseUrl) baseUrl.placeholder = option.getAttribute("data-base-url") || "";
  });
})();
