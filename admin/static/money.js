// The contest form's price preview as the organiser types ("Voters pay Ksh 10.00 a vote."): the browser's own
// currency formats in the locale the page was drawn in; the server says the same on every save that fails.
(() => {
  const price = document.getElementById("price_per_vote");
  const currency = document.getElementById("currency");
  const shown = document.getElementById("price-preview");
  if (!price || !currency || !shown) return;
  const update = () => {
    const typed = price.value.trim().replace(",", ".");
    let text = "";
    try {
      const format = new Intl.NumberFormat(shown.dataset.locale,
        {style: "currency", currency: currency.value.trim().toUpperCase()});
      const cents = (typed.split(".")[1] || "").replace(/0+$/, "");
      if (/^[0-9]+(\.[0-9]+)?$/.test(typed) && cents.length <= format.resolvedOptions().maximumFractionDigits) {
        text = shown.dataset.sentence.replace("{price}", format.format(Number(typed)));
      }
    } catch (e) {
      text = "";  // not a currency (yet)
    }
    shown.textContent = text;
  };
  price.addEventListener("input", update);
  currency.addEventListener("input", update);
})();
