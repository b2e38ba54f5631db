// dayledger: small progressive enhancements; every page works without this file.
"use strict";

// <form data-confirm="..."> asks before it is sent.
document.addEventListener("submit", (event) => {
  const question = event.target.getAttribute("data-confirm");
  if (question && !window.confirm(question)) event.preventDefault();
});

// <button data-copy="#id"> copies the text of that element.
document.addEventListener("click", (event) => {
  const button = event.target.closest("[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.getAttribute("data-copy"));
  if (source && navigator.clipboard) navigator.clipboard.writeText(source.textContent.trim());
});

// <form data-quote="/url"> with inputs named days/channels: the price is asked again as you type.
for (const form of document.querySelectorAll("form[data-quote]")) {
  const output = form.querySelector("[data-quote-total]");
  let timer = null;
  let asked = 0;
  const update = async () => {
    const params = new URLSearchParams();
    for (const name of ["days", "channels"]) {
      const input = form.querySelector(`[name="${name}"]`);
      if (input && input.value.trim() !== "" && (input.type !== "radio" || input.checked)) {
        params.set(name, input.value.trim());
      }
    }
    const unit = form.querySelector('[name="unit"]:checked');
    const amount = form.querySelector('[name="amount"]');
    if (unit && amount && amount.value.trim() !== "") params.set(unit.value, amount.value.trim());
    const mine = ++asked;
    try {
      const response = await fetch(`${form.getAttribute("data-quote")}?${params}`, {headers: {accept: "application/json"}});
      const body = await response.json();
      if (mine !== asked) return;  // an older answer arriving late
      // data-quote-total="field" shows that field of the answer (default: text);
      // every [data-quote-part="field"] in the form shows its own field.
      const good = response.ok && !body.error;
      if (output) output.textContent = good ? body[output.getAttribute("data-quote-total") || "text"] : body.error;
      for (const part of form.querySelectorAll("[data-quote-part]")) {
        part.textContent = good ? (body[part.getAttribute("data-quote-part")] ?? "") : "";
      }
    } catch (_) {
      if (mine === asked && output) output.textContent = "";
    }
  };
  form.addEventListener("input", () => { clearTimeout(timer); timer = setTimeout(update, 150); });
}
