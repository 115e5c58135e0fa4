// webhook-gateway console: the little behaviour forms need. No inline scripts (CSP).
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  for (const box of document.querySelectorAll("input[data-select-all]")) {
    box.addEventListener("change", () => {
      for (const item of box.form.querySelectorAll('input[type="checkbox"][name="id"]')) {
        item.checked = box.checked;
      }
    });
  }
  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-confirm]");
    if (button && !window.confirm(button.dataset.confirm)) {
      event.preventDefault();
    }
  });
});
