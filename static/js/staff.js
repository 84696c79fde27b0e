// The provider key form: choosing a preset (<select data-preset>) copies its fields, which each option carries
// as JSON in data-fields, into the form; every field stays editable. Without JavaScript the add page's
// ?preset=<name> links fill the same values on the server.
(function () {
  "use strict";

  function fill(form, fields) {
    Object.keys(fields).forEach(function (name) {
      var input = form.elements.namedItem(name);
      if (!input || name === "preset") return;
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
    fill(select.form, JSON.parse(fields));
    var baseUrl = select.form.elements.namedItem("base_url");
    if (baseUrl) baseUrl.placeholder = option.getAttribute("data-base-url") || "";
  });
})();
