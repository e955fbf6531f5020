// A classic script, run before the page's modules: until they have attached their handlers, a form
// the scripts send (one without a method of its own) is held instead of being sent natively, which
// would reload this page with what was typed in its address and lose the form. Module scripts have
// all run when DOMContentLoaded fires, so what was held is sent then, through their handlers.
(() => {
  const held = [];
  let ready = false;
  document.addEventListener(
    "submit",
    (event) => {
      const form = event.target;
      if (ready || !(form instanceof HTMLFormElement) || form.hasAttribute("method")) return;
      event.preventDefault();
      if (!held.some(([waiting]) => waiting === form)) held.push([form, event.submitter]);
    },
    true,
  );
  document.addEventListener("DOMContentLoaded", () => {
    ready = true;
    for (const [form, submitter] of held.splice(0)) {
      if (form.isConnected) form.requestSubmit(submitter && submitter.form === form ? submitter : null);
    }
  });
})();
